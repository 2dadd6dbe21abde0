-- Projections of the event log (dbt-style layers). Rebuilt from eventstore.events at will;
-- each advances its eventstore.tracking position in the same transaction as its rows.
CREATE SCHEMA IF NOT EXISTS staging;
CREATE SCHEMA IF NOT EXISTS intermediate;
-- No key constraints here: positions come from the gap-free log and interviews from a group-by,
-- so they are unique by construction, and the indexes cost more than the rest of a build.

CREATE TABLE IF NOT EXISTS staging.stg_debriefs (
    position            BIGINT      NOT NULL,
    firm_id             VARCHAR     NOT NULL,
    interview_key       VARCHAR     NOT NULL,
    client_key          VARCHAR     NOT NULL,
    application_key     VARCHAR,
    round               INTEGER,
    submitted_at        TIMESTAMPTZ NOT NULL,
    interview_date      DATE        NOT NULL,
    stage               VARCHAR     NOT NULL,
    interviewer_role    VARCHAR     NOT NULL,
    industry            VARCHAR     NOT NULL,
    role_family         VARCHAR     NOT NULL,
    seniority           VARCHAR     NOT NULL,
    experience_band     VARCHAR     NOT NULL,
    duration_min        INTEGER     NOT NULL,
    asked_fit_question  BOOLEAN     NOT NULL,
    fit_question_kinds  VARCHAR[]   NOT NULL,
    asked_at_pct        INTEGER,
    rapport_before_ask  INTEGER,
    concerns_raised     VARCHAR[]   NOT NULL,
    concerns_addressed  BOOLEAN,
    self_rating         INTEGER     NOT NULL,
    notes               VARCHAR
);
COMMENT ON TABLE staging.stg_debriefs IS 'One row per DebriefSubmitted event (every version of every debrief, corrections included), payload decoded.';
COMMENT ON COLUMN staging.stg_debriefs.position IS 'Position of the event in eventstore.events.';
COMMENT ON COLUMN staging.stg_debriefs.firm_id IS 'The coaching firm (tenant).';
COMMENT ON COLUMN staging.stg_debriefs.interview_key IS 'Pseudonym of the firm''s interview_ref (HMAC, keyed per firm).';
COMMENT ON COLUMN staging.stg_debriefs.client_key IS 'Pseudonym of the firm''s client_ref (HMAC, keyed per firm).';
COMMENT ON COLUMN staging.stg_debriefs.application_key IS 'Pseudonym of the firm''s application_ref (HMAC, keyed per firm): one client applying for one opening. Null when the firm did not send one (contract revision 1.0).';
COMMENT ON COLUMN staging.stg_debriefs.round IS 'Position of the interview in its application as the firm reported it (1 = first round); null when not sent.';
COMMENT ON COLUMN staging.stg_debriefs.submitted_at IS 'When the client wrote the debrief (UTC).';
COMMENT ON COLUMN staging.stg_debriefs.interview_date IS 'Date of the interview.';
COMMENT ON COLUMN staging.stg_debriefs.stage IS 'Interview round: phone_screen, recruiter, hiring_manager, panel, final, other.';
COMMENT ON COLUMN staging.stg_debriefs.interviewer_role IS 'Who led the interview: recruiter, hiring_manager, peer, executive, panel, other.';
COMMENT ON COLUMN staging.stg_debriefs.industry IS 'Industry of the employer, as the firm reports it.';
COMMENT ON COLUMN staging.stg_debriefs.role_family IS 'Family of the role, as the firm reports it.';
COMMENT ON COLUMN staging.stg_debriefs.seniority IS 'Level of the role: entry, mid, senior, lead, executive.';
COMMENT ON COLUMN staging.stg_debriefs.experience_band IS 'Client''s years of experience, banded (0-2, 3-5, 6-10, 11-20, 21+): the exact figure is a quasi-identifier and is not stored.';
COMMENT ON COLUMN staging.stg_debriefs.duration_min IS 'Length of the interview in minutes.';
COMMENT ON COLUMN staging.stg_debriefs.asked_fit_question IS 'Whether the client asked how they compare / what the ideal candidate looks like / whether the interviewer has concerns.';
COMMENT ON COLUMN staging.stg_debriefs.fit_question_kinds IS 'Which fit questions were asked: concerns, ideal_candidate, comparison (empty when not asked).';
COMMENT ON COLUMN staging.stg_debriefs.asked_at_pct IS 'How far into the interview the question was asked, 0-100 (75 = three-quarters in); null when not asked.';
COMMENT ON COLUMN staging.stg_debriefs.rapport_before_ask IS 'Genuine rapport before asking, 1-5; null when not asked.';
COMMENT ON COLUMN staging.stg_debriefs.concerns_raised IS 'Objections the interviewer voiced (experience_gap, industry_gap, skills_gap, culture_fit, compensation, location, overqualified, employment_gap, other).';
COMMENT ON COLUMN staging.stg_debriefs.concerns_addressed IS 'Whether the client addressed the objections in the room; null when none were raised.';
COMMENT ON COLUMN staging.stg_debriefs.self_rating IS 'How well the client felt it went, 1-5.';
COMMENT ON COLUMN staging.stg_debriefs.notes IS 'Free-text notes with e-mails, phone numbers, URLs and person names replaced by [EMAIL], [PHONE], [URL], [NAME].';

CREATE TABLE IF NOT EXISTS staging.stg_outcomes (
    position        BIGINT      NOT NULL,
    firm_id         VARCHAR     NOT NULL,
    interview_key   VARCHAR     NOT NULL,
    client_key      VARCHAR     NOT NULL,
    application_key VARCHAR,
    decided_at      TIMESTAMPTZ NOT NULL,
    outcome         VARCHAR     NOT NULL,
    referral        BOOLEAN     NOT NULL
);
COMMENT ON TABLE staging.stg_outcomes IS 'One row per OutcomeRecorded event (every outcome ever reported, superseded ones included).';
COMMENT ON COLUMN staging.stg_outcomes.position IS 'Position of the event in eventstore.events.';
COMMENT ON COLUMN staging.stg_outcomes.firm_id IS 'The coaching firm (tenant).';
COMMENT ON COLUMN staging.stg_outcomes.interview_key IS 'Pseudonym of the interview the outcome concerns.';
COMMENT ON COLUMN staging.stg_outcomes.client_key IS 'Pseudonym of the client.';
COMMENT ON COLUMN staging.stg_outcomes.application_key IS 'Pseudonym of the application the outcome concerns; null when not sent.';
COMMENT ON COLUMN staging.stg_outcomes.decided_at IS 'When the client heard the decision (UTC).';
COMMENT ON COLUMN staging.stg_outcomes.outcome IS 'offer, next_round, rejected, withdrawn or no_response.';
COMMENT ON COLUMN staging.stg_outcomes.referral IS 'Whether the interviewer connected the client to another opportunity (a warm prospect).';

CREATE TABLE IF NOT EXISTS staging.stg_erasures (
    position        BIGINT      NOT NULL,
    firm_id         VARCHAR     NOT NULL,
    client_key      VARCHAR     NOT NULL,
    requested_at    TIMESTAMPTZ NOT NULL
);
COMMENT ON TABLE staging.stg_erasures IS 'One row per ErasureRequested event that is not yet applied. Empty in practice: ingestion applies an erasure in the transaction that appends it and tombstones the event (see eventstore.erasures); kept so that a log written by other means still never projects an erased client.';
COMMENT ON COLUMN staging.stg_erasures.position IS 'Position of the event in eventstore.events.';
COMMENT ON COLUMN staging.stg_erasures.firm_id IS 'The coaching firm (tenant).';
COMMENT ON COLUMN staging.stg_erasures.client_key IS 'Pseudonym of the client to forget.';
COMMENT ON COLUMN staging.stg_erasures.requested_at IS 'When the client asked (UTC).';

CREATE TABLE IF NOT EXISTS intermediate.int_interviews (
    firm_id             VARCHAR     NOT NULL,
    interview_key       VARCHAR     NOT NULL,
    client_key          VARCHAR     NOT NULL,
    application_key     VARCHAR,
    round               INTEGER,
    debrief_position    BIGINT,
    submitted_at        TIMESTAMPTZ,
    interview_date      DATE,
    stage               VARCHAR,
    interviewer_role    VARCHAR,
    industry            VARCHAR,
    role_family         VARCHAR,
    seniority           VARCHAR,
    experience_band     VARCHAR,
    duration_min        INTEGER,
    asked_fit_question  BOOLEAN,
    fit_question_kinds  VARCHAR[],
    asked_at_pct        INTEGER,
    rapport_before_ask  INTEGER,
    concerns_raised     VARCHAR[],
    concerns_addressed  BOOLEAN,
    self_rating         INTEGER,
    notes               VARCHAR,
    debrief_versions    INTEGER     NOT NULL,
    versions_after_outcome INTEGER  NOT NULL,
    is_debrief_after_outcome BOOLEAN,
    outcome_position    BIGINT,
    first_decided_at    TIMESTAMPTZ,
    decided_at          TIMESTAMPTZ,
    outcome             VARCHAR,
    referral            BOOLEAN,
    has_debrief         BOOLEAN     NOT NULL,
    has_outcome         BOOLEAN     NOT NULL
);
COMMENT ON TABLE intermediate.int_interviews IS 'One row per interview: the debrief version in use (the latest submitted at or before the first outcome was known, so corrections written in hindsight do not count) and its latest outcome (by decided_at; next_round then offer counts as offer). Outcomes may exist before their debrief.';
COMMENT ON COLUMN intermediate.int_interviews.firm_id IS 'The coaching firm (tenant).';
COMMENT ON COLUMN intermediate.int_interviews.interview_key IS 'Pseudonym of the interview.';
COMMENT ON COLUMN intermediate.int_interviews.client_key IS 'Pseudonym of the client.';
COMMENT ON COLUMN intermediate.int_interviews.application_key IS 'Pseudonym of the application (from the debrief, else the outcome); null when the firm sent none.';
COMMENT ON COLUMN intermediate.int_interviews.round IS 'Round of the interview in its application as reported; null when not sent.';
COMMENT ON COLUMN intermediate.int_interviews.debrief_position IS 'Log position of the debrief version in use.';
COMMENT ON COLUMN intermediate.int_interviews.submitted_at IS 'When the debrief version in use was written (UTC).';
COMMENT ON COLUMN intermediate.int_interviews.interview_date IS 'Date of the interview.';
COMMENT ON COLUMN intermediate.int_interviews.stage IS 'Interview round.';
COMMENT ON COLUMN intermediate.int_interviews.interviewer_role IS 'Who led the interview.';
COMMENT ON COLUMN intermediate.int_interviews.industry IS 'Industry of the employer.';
COMMENT ON COLUMN intermediate.int_interviews.role_family IS 'Family of the role.';
COMMENT ON COLUMN intermediate.int_interviews.seniority IS 'Level of the role.';
COMMENT ON COLUMN intermediate.int_interviews.experience_band IS 'Client''s years of experience, banded.';
COMMENT ON COLUMN intermediate.int_interviews.duration_min IS 'Length of the interview in minutes.';
COMMENT ON COLUMN intermediate.int_interviews.asked_fit_question IS 'Whether the client asked a fit question.';
COMMENT ON COLUMN intermediate.int_interviews.fit_question_kinds IS 'Which fit questions were asked.';
COMMENT ON COLUMN intermediate.int_interviews.asked_at_pct IS 'How far into the interview the question was asked (0-100); null when not asked.';
COMMENT ON COLUMN intermediate.int_interviews.rapport_before_ask IS 'Rapport before asking (1-5); null when not asked.';
COMMENT ON COLUMN intermediate.int_interviews.concerns_raised IS 'Objections the interviewer voiced.';
COMMENT ON COLUMN intermediate.int_interviews.concerns_addressed IS 'Whether the client addressed them in the room; null when none were raised.';
COMMENT ON COLUMN intermediate.int_interviews.self_rating IS 'How well the client felt it went (1-5).';
COMMENT ON COLUMN intermediate.int_interviews.notes IS 'Scrubbed free-text notes.';
COMMENT ON COLUMN intermediate.int_interviews.debrief_versions IS 'How many debriefs were received for the interview (more than 1 = corrected).';
COMMENT ON COLUMN intermediate.int_interviews.versions_after_outcome IS 'Debrief versions submitted after the first outcome was known (kept in the log, not used: hindsight).';
COMMENT ON COLUMN intermediate.int_interviews.is_debrief_after_outcome IS 'Every debrief version was written after the outcome was known: the earliest is shown, and the interview is left out of the estimates.';
COMMENT ON COLUMN intermediate.int_interviews.first_decided_at IS 'When the first outcome for the interview was known (UTC): debriefs written later count as hindsight.';
COMMENT ON COLUMN intermediate.int_interviews.outcome_position IS 'Log position of the outcome in use.';
COMMENT ON COLUMN intermediate.int_interviews.decided_at IS 'When the client heard the outcome in use (UTC).';
COMMENT ON COLUMN intermediate.int_interviews.outcome IS 'Latest outcome; null while pending.';
COMMENT ON COLUMN intermediate.int_interviews.referral IS 'Referral flag of the latest outcome.';
COMMENT ON COLUMN intermediate.int_interviews.has_debrief IS 'A debrief has been received.';
COMMENT ON COLUMN intermediate.int_interviews.has_outcome IS 'An outcome has been received.';
