.PHONY: demo test lint airflow
demo:
	scripts/demo.sh
test:
	scripts/test.sh
lint:
	uv run ruff check . && uv run ruff format --check .
airflow:
	uv run sealdeal airflow standalone
