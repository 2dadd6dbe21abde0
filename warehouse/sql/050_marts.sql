-- Marts: what researchers and dashboards read. Rebuilt by `sealdeal build` from the projections;
-- the tables are created once here (types and COMMENTs are the data dictionary) and refilled.
CREATE SCHEMA IF NOT EXISTS marts;
-- Replaced by marts.tactic_estimates (per-round outcome, three methods, clustered errors).
DROP TABLE IF EXISTS marts.tactic_effects;

CREATE TABLE IF NOT EXISTS marts.fct_interviews (
    interview_key                  VARCHAR,
    firm_id                        VARCHAR,
    client_key                     VARCHAR,
    application_key                VARCHAR,
    has_application_ref            BOOLEAN,
    round                          INTEGER,
    interview_date                 DATE,
    stage                          VARCHAR,
    interviewer_role               VARCHAR,
    industry                       VARCHAR,
    role_family                    VARCHAR,
    seniority                      VARCHAR,
    experience_band                VARCHAR,
    asked_fit_question             BOOLEAN,
    fit_question_kinds             VARCHAR[],
    asked_at_pct                   INTEGER,
    rapport_before_ask             INTEGER,
    concerns_raised                VARCHAR[],
    concerns_addressed             BOOLEAN,
    self_rating                    INTEGER,
    outcome                        VARCHAR,
    is_decided                     BOOLEAN,
    got_offer                      BOOLEAN,
    got_referral                   BOOLEAN,
    decided_at                     TIMESTAMPTZ,
    first_decided_at               TIMESTAMPTZ,
    has_concerns_raised            BOOLEAN,
    debrief_versions               INTEGER,
    versions_after_outcome         INTEGER,
    is_debrief_after_outcome       BOOLEAN
    -- No PRIMARY KEY: its index cost 2-3 s per million rows on every build; the key's
    -- uniqueness is checked by the GX mart checks before a snapshot is published.
);
COMMENT ON TABLE marts.fct_interviews IS 'One row per interview that has a debrief, of clients who have not asked to be erased: the debrief version in use (the latest written before the outcome was known) and the current outcome. The base of every other mart.';
COMMENT ON COLUMN marts.fct_interviews.interview_key IS 'Pseudonym of the interview (HMAC of the firm''s interview_ref, keyed per firm).';
COMMENT ON COLUMN marts.fct_interviews.firm_id IS 'The coaching firm (tenant).';
COMMENT ON COLUMN marts.fct_interviews.client_key IS 'Pseudonym of the client (HMAC of the firm''s client_ref, keyed per firm).';
COMMENT ON COLUMN marts.fct_interviews.application_key IS 'Pseudonym of the application (one client applying for one opening; HMAC of the firm''s application_ref, keyed per firm). Without an application_ref the interview is an application of its own and this is its interview_key.';
COMMENT ON COLUMN marts.fct_interviews.has_application_ref IS 'The firm sent an application_ref (contract revision 1.1); false: the interview is its own application.';
COMMENT ON COLUMN marts.fct_interviews.round IS 'Round of the interview in its application as the firm reported it (1 = first); null when not sent (the estimates then number rounds by interview date).';
COMMENT ON COLUMN marts.fct_interviews.interview_date IS 'Date of the interview.';
COMMENT ON COLUMN marts.fct_interviews.stage IS 'Interview round: phone_screen, recruiter, hiring_manager, panel, final, other.';
COMMENT ON COLUMN marts.fct_interviews.interviewer_role IS 'Who led the interview: recruiter, hiring_manager, peer, executive, panel, other.';
COMMENT ON COLUMN marts.fct_interviews.industry IS 'Industry of the employer, as the firm reports it.';
COMMENT ON COLUMN marts.fct_interviews.role_family IS 'Family of the role, as the firm reports it.';
COMMENT ON COLUMN marts.fct_interviews.seniority IS 'Level of the role: entry, mid, senior, lead, executive.';
COMMENT ON COLUMN marts.fct_interviews.experience_band IS 'Client''s years of experience, banded (0-2, 3-5, 6-10, 11-20, 21+).';
COMMENT ON COLUMN marts.fct_interviews.asked_fit_question IS 'Whether the client asked how they compare, what the ideal candidate looks like, or whether the interviewer has concerns.';
COMMENT ON COLUMN marts.fct_interviews.fit_question_kinds IS 'Which fit questions were asked: concerns, ideal_candidate, comparison.';
COMMENT ON COLUMN marts.fct_interviews.asked_at_pct IS 'How far into the interview the question was asked (0-100); null when not asked.';
COMMENT ON COLUMN marts.fct_interviews.rapport_before_ask IS 'Rapport before asking (1-5); null when not asked.';
COMMENT ON COLUMN marts.fct_interviews.concerns_raised IS 'Objections the interviewer voiced.';
COMMENT ON COLUMN marts.fct_interviews.concerns_addressed IS 'Whether the client addressed the objections in the room; null when none were raised.';
COMMENT ON COLUMN marts.fct_interviews.self_rating IS 'How well the client felt it went (1-5).';
COMMENT ON COLUMN marts.fct_interviews.outcome IS 'Current outcome (latest by decided_at): offer, next_round, rejected, withdrawn, no_response; null while pending.';
COMMENT ON COLUMN marts.fct_interviews.is_decided IS 'An outcome has been received (false = pending).';
COMMENT ON COLUMN marts.fct_interviews.got_offer IS 'The current outcome is an offer (false, not null, while pending: filter on is_decided for rates).';
COMMENT ON COLUMN marts.fct_interviews.got_referral IS 'The interviewer referred the client to another opportunity (referral flag of the current outcome; false while pending).';
COMMENT ON COLUMN marts.fct_interviews.decided_at IS 'When the client heard the current outcome (UTC).';
COMMENT ON COLUMN marts.fct_interviews.has_concerns_raised IS 'The interviewer voiced at least one objection.';
COMMENT ON COLUMN marts.fct_interviews.first_decided_at IS 'When the first outcome for the interview was known (UTC).';
COMMENT ON COLUMN marts.fct_interviews.debrief_versions IS 'How many debrief versions were received (more than 1 = corrected).';
COMMENT ON COLUMN marts.fct_interviews.versions_after_outcome IS 'Debrief versions written after the outcome was known: kept in the log, not used (hindsight).';
COMMENT ON COLUMN marts.fct_interviews.is_debrief_after_outcome IS 'Every debrief version came after the outcome was known; the interview is left out of the estimates.';

CREATE TABLE IF NOT EXISTS marts.tactic_estimates (
    tactic             VARCHAR,
    estimand           VARCHAR,
    method             VARCHAR,
    segment_kind       VARCHAR,
    segment            VARCHAR,
    compares           VARCHAR,
    estimate           DOUBLE,
    std_error          DOUBLE,
    ci_low             DOUBLE,
    ci_high            DOUBLE,
    n_treated          BIGINT,
    n_control          BIGINT,
    n_clients          BIGINT,
    n_clients_treated  BIGINT,
    n_clients_control  BIGINT,
    p_value            DOUBLE,
    q_value            DOUBLE,
    family             VARCHAR,
    is_finding         BOOLEAN,
    enough_data        BOOLEAN
);
COMMENT ON TABLE marts.tactic_estimates IS 'Per tactic, estimand, method and segment: how much more often clients got past a round (advance) or an application ended in an offer (application_offer) with the tactic than without. Three methods side by side; errors clustered by client. Associations, not proven causes: see compares and docs/methods.md.';
COMMENT ON COLUMN marts.tactic_estimates.tactic IS 'asked_fit_question (any of the three questions), asked_about_concerns, asked_about_ideal_candidate, asked_how_compare (each holding the other two fixed, except in crude), addressed_concerns (among rounds where concerns were raised).';
COMMENT ON COLUMN marts.tactic_estimates.estimand IS 'advance: one round, the chance of getting past it (offer or next round vs rejected or no response; withdrawn and pending rounds left out). application_offer: the chance an application ends in an offer if the tactic is used in every round vs in none, composed from the per-round effect (sequential model); its crude row compares applications that used it in any round vs never, which favours the tactic by construction.';
COMMENT ON COLUMN marts.tactic_estimates.method IS 'crude (difference in rates, nothing held fixed), adjusted (linear probability model adjusted for round, stage, seniority, industry group, experience band, firm, role group, interviewer role, month and the other question kinds) or within_client (client fixed effects: the same client''s rounds compared, same round and stage, other question kinds held fixed). See docs/methods.md.';
COMMENT ON COLUMN marts.tactic_estimates.segment_kind IS 'all (the confirmatory row), stage, seniority or firm (exploratory rows).';
COMMENT ON COLUMN marts.tactic_estimates.segment IS 'Population the row describes: all, or stage=..., seniority=..., firm=....';
COMMENT ON COLUMN marts.tactic_estimates.compares IS 'What is compared, in words.';
COMMENT ON COLUMN marts.tactic_estimates.estimate IS 'Difference in chance (0-1 scale; 0.08 = 8 percentage points), with the tactic minus without; null without enough data.';
COMMENT ON COLUMN marts.tactic_estimates.std_error IS 'Standard error of the estimate, clustered by client (CR1 sandwich; delta method for application_offer).';
COMMENT ON COLUMN marts.tactic_estimates.ci_low IS 'Lower bound of the 95% interval (t with clients - 1 degrees of freedom).';
COMMENT ON COLUMN marts.tactic_estimates.ci_high IS 'Upper bound of the 95% interval.';
COMMENT ON COLUMN marts.tactic_estimates.n_treated IS 'Rounds (applications for the crude application_offer row) with the tactic or condition.';
COMMENT ON COLUMN marts.tactic_estimates.n_control IS 'Rounds (applications for the crude application_offer row) without it.';
COMMENT ON COLUMN marts.tactic_estimates.n_clients IS 'Distinct clients behind the row (the clusters of the standard error).';
COMMENT ON COLUMN marts.tactic_estimates.n_clients_treated IS 'Distinct clients behind n_treated.';
COMMENT ON COLUMN marts.tactic_estimates.n_clients_control IS 'Distinct clients behind n_control.';
COMMENT ON COLUMN marts.tactic_estimates.p_value IS 'Two-sided p-value of estimate = 0 (t test with the clustered error).';
COMMENT ON COLUMN marts.tactic_estimates.q_value IS 'Benjamini-Hochberg q-value within the row''s family (see family).';
COMMENT ON COLUMN marts.tactic_estimates.family IS 'Multiple-testing family: confirmatory (the segment = all rows of this table, declared in docs/methods.md) or exploratory: <segment kind> (each segment kind its own family; exploratory, not findings to act on alone).';
COMMENT ON COLUMN marts.tactic_estimates.is_finding IS 'enough_data and q_value < 0.05 within its family.';
COMMENT ON COLUMN marts.tactic_estimates.enough_data IS 'At least 30 rounds in each arm and 20 clients (within_client: 20 clients who were in both arms); otherwise no estimate is given.';

CREATE TABLE IF NOT EXISTS marts.hypothesis_tests (
    hypothesis         VARCHAR,
    estimand           VARCHAR,
    method             VARCHAR,
    segment_kind       VARCHAR,
    segment            VARCHAR,
    compares           VARCHAR,
    estimate           DOUBLE,
    std_error          DOUBLE,
    ci_low             DOUBLE,
    ci_high            DOUBLE,
    n_treated          BIGINT,
    n_control          BIGINT,
    n_clients          BIGINT,
    n_clients_treated  BIGINT,
    n_clients_control  BIGINT,
    p_value            DOUBLE,
    q_value            DOUBLE,
    family             VARCHAR,
    is_finding         BOOLEAN,
    enough_data        BOOLEAN,
    n                  BIGINT
);
COMMENT ON TABLE marts.hypothesis_tests IS 'The seed hypotheses tested by the same three methods: ask_late (asked 65-85% of the way in vs at another time, among askers), rapport_first (rapport 4-5 before asking vs 1-3, among askers), address_objections (addressed vs not, among rounds with concerns raised), self_rating_predicts (self-rating 4-5 vs 1-3), warm_prospects (referral rate among rounds that did not advance, asked about concerns vs not).';
COMMENT ON COLUMN marts.hypothesis_tests.hypothesis IS 'ask_late, rapport_first, address_objections, self_rating_predicts or warm_prospects.';
COMMENT ON COLUMN marts.hypothesis_tests.estimand IS 'advance (the chance of getting past the round) or referral (the chance of a referral, among rounds that did not advance).';
COMMENT ON COLUMN marts.hypothesis_tests.n IS 'Rounds in the comparison (n_treated + n_control).';
COMMENT ON COLUMN marts.hypothesis_tests.method IS 'crude (difference in rates, nothing held fixed), adjusted (linear probability model adjusted for round, stage, seniority, industry group, experience band, firm, role group, interviewer role, month and the other question kinds) or within_client (client fixed effects: the same client''s rounds compared, same round and stage, other question kinds held fixed). See docs/methods.md.';
COMMENT ON COLUMN marts.hypothesis_tests.segment_kind IS 'all (the confirmatory row), stage, seniority or firm (exploratory rows).';
COMMENT ON COLUMN marts.hypothesis_tests.segment IS 'Population the row describes: all, or stage=..., seniority=..., firm=....';
COMMENT ON COLUMN marts.hypothesis_tests.compares IS 'What is compared, in words.';
COMMENT ON COLUMN marts.hypothesis_tests.estimate IS 'Difference in chance (0-1 scale; 0.08 = 8 percentage points), with the condition minus without; null without enough data.';
COMMENT ON COLUMN marts.hypothesis_tests.std_error IS 'Standard error of the estimate, clustered by client (CR1 sandwich; delta method for application_offer).';
COMMENT ON COLUMN marts.hypothesis_tests.ci_low IS 'Lower bound of the 95% interval (t with clients - 1 degrees of freedom).';
COMMENT ON COLUMN marts.hypothesis_tests.ci_high IS 'Upper bound of the 95% interval.';
COMMENT ON COLUMN marts.hypothesis_tests.n_treated IS 'Rounds with the tactic or condition.';
COMMENT ON COLUMN marts.hypothesis_tests.n_control IS 'Rounds without it.';
COMMENT ON COLUMN marts.hypothesis_tests.n_clients IS 'Distinct clients behind the row (the clusters of the standard error).';
COMMENT ON COLUMN marts.hypothesis_tests.n_clients_treated IS 'Distinct clients behind n_treated.';
COMMENT ON COLUMN marts.hypothesis_tests.n_clients_control IS 'Distinct clients behind n_control.';
COMMENT ON COLUMN marts.hypothesis_tests.p_value IS 'Two-sided p-value of estimate = 0 (t test with the clustered error).';
COMMENT ON COLUMN marts.hypothesis_tests.q_value IS 'Benjamini-Hochberg q-value within the row''s family (see family).';
COMMENT ON COLUMN marts.hypothesis_tests.family IS 'Multiple-testing family: confirmatory (the segment = all rows of this table, declared in docs/methods.md) or exploratory: <segment kind> (each segment kind its own family; exploratory, not findings to act on alone).';
COMMENT ON COLUMN marts.hypothesis_tests.is_finding IS 'enough_data and q_value < 0.05 within its family.';
COMMENT ON COLUMN marts.hypothesis_tests.enough_data IS 'At least 30 rounds in each arm and 20 clients (within_client: 20 clients who were in both arms); otherwise no estimate is given.';

CREATE TABLE IF NOT EXISTS marts.offer_rate_by_timing (
    timing_bin                     VARCHAR,
    n                              BIGINT,
    offers                         BIGINT,
    offer_rate                     DOUBLE,
    offer_rate_ci_low              DOUBLE,
    offer_rate_ci_high             DOUBLE,
    enough_data                    BOOLEAN,
    bin_order                      BIGINT
);
COMMENT ON TABLE marts.offer_rate_by_timing IS 'Offer rate among decided interviews by how far into the interview the fit question was asked (bins of asked_at_pct), next to not asking at all: tests the ''about three-quarters in'' advice.';
COMMENT ON COLUMN marts.offer_rate_by_timing.timing_bin IS 'Bin of asked_at_pct (0-39, 40-69, 70-80, 81-100) or "not asked".';
COMMENT ON COLUMN marts.offer_rate_by_timing.n IS 'Decided interviews in the cell.';
COMMENT ON COLUMN marts.offer_rate_by_timing.offers IS 'Offers in the cell.';
COMMENT ON COLUMN marts.offer_rate_by_timing.offer_rate IS 'offers / decided interviews; null without enough data.';
COMMENT ON COLUMN marts.offer_rate_by_timing.offer_rate_ci_low IS 'Lower bound of the Wilson 95% interval of offer_rate.';
COMMENT ON COLUMN marts.offer_rate_by_timing.offer_rate_ci_high IS 'Upper bound of the Wilson 95% interval of offer_rate.';
COMMENT ON COLUMN marts.offer_rate_by_timing.enough_data IS 'The cell has at least 30 interviews (both arms, where there are two); when false no rate or estimate is given.';
COMMENT ON COLUMN marts.offer_rate_by_timing.bin_order IS 'Sort order of the bins (-1 = not asked).';

CREATE TABLE IF NOT EXISTS marts.offer_rate_by_rapport (
    rapport_before_ask             INTEGER,
    n                              BIGINT,
    offers                         BIGINT,
    offer_rate                     DOUBLE,
    offer_rate_ci_low              DOUBLE,
    offer_rate_ci_high             DOUBLE,
    enough_data                    BOOLEAN
);
COMMENT ON TABLE marts.offer_rate_by_rapport IS 'Offer rate among decided interviews by the rapport the client felt before asking (1-5; 0 = did not ask).';
COMMENT ON COLUMN marts.offer_rate_by_rapport.rapport_before_ask IS 'Rapport before asking (1-5); 0 = did not ask.';
COMMENT ON COLUMN marts.offer_rate_by_rapport.n IS 'Decided interviews in the cell.';
COMMENT ON COLUMN marts.offer_rate_by_rapport.offers IS 'Offers in the cell.';
COMMENT ON COLUMN marts.offer_rate_by_rapport.offer_rate IS 'offers / decided interviews; null without enough data.';
COMMENT ON COLUMN marts.offer_rate_by_rapport.offer_rate_ci_low IS 'Lower bound of the Wilson 95% interval of offer_rate.';
COMMENT ON COLUMN marts.offer_rate_by_rapport.offer_rate_ci_high IS 'Upper bound of the Wilson 95% interval of offer_rate.';
COMMENT ON COLUMN marts.offer_rate_by_rapport.enough_data IS 'The cell has at least 30 interviews (both arms, where there are two); when false no rate or estimate is given.';

CREATE TABLE IF NOT EXISTS marts.objections (
    concern                        VARCHAR,
    concerns_addressed             BOOLEAN,
    n                              BIGINT,
    offers                         BIGINT,
    next_rounds                    BIGINT,
    rejections                     BIGINT,
    advanced                       BIGINT,
    offer_rate                     DOUBLE,
    offer_rate_ci_low              DOUBLE,
    offer_rate_ci_high             DOUBLE,
    advance_rate                   DOUBLE,
    advance_rate_ci_low            DOUBLE,
    advance_rate_ci_high           DOUBLE,
    enough_data                    BOOLEAN
);
COMMENT ON TABLE marts.objections IS 'Per objection category raised by the interviewer, split by whether the client addressed it in the room: what happened next (''objections are not game over''). An interview with several concerns counts once per concern.';
COMMENT ON COLUMN marts.objections.concern IS 'Objection category: experience_gap, industry_gap, skills_gap, culture_fit, compensation, location, overqualified, employment_gap, other.';
COMMENT ON COLUMN marts.objections.concerns_addressed IS 'Whether the client addressed the objections in the room (one flag per interview, not per concern).';
COMMENT ON COLUMN marts.objections.n IS 'Decided interviews where this concern was raised (and addressed or not).';
COMMENT ON COLUMN marts.objections.offers IS 'Offers in the cell.';
COMMENT ON COLUMN marts.objections.next_rounds IS 'Interviews whose current outcome is next_round.';
COMMENT ON COLUMN marts.objections.rejections IS 'Interviews whose current outcome is rejected.';
COMMENT ON COLUMN marts.objections.advanced IS 'Offers plus next rounds.';
COMMENT ON COLUMN marts.objections.offer_rate IS 'offers / decided interviews; null without enough data.';
COMMENT ON COLUMN marts.objections.offer_rate_ci_low IS 'Lower bound of the Wilson 95% interval of offer_rate.';
COMMENT ON COLUMN marts.objections.offer_rate_ci_high IS 'Upper bound of the Wilson 95% interval of offer_rate.';
COMMENT ON COLUMN marts.objections.advance_rate IS 'advanced / decided interviews; null without enough data.';
COMMENT ON COLUMN marts.objections.advance_rate_ci_low IS 'Lower bound of the Wilson 95% interval of advance_rate.';
COMMENT ON COLUMN marts.objections.advance_rate_ci_high IS 'Upper bound of the Wilson 95% interval of advance_rate.';
COMMENT ON COLUMN marts.objections.enough_data IS 'The cell has at least 30 interviews (both arms, where there are two); when false no rate or estimate is given.';

CREATE TABLE IF NOT EXISTS marts.perception_gap (
    self_rating                    INTEGER,
    n                              BIGINT,
    offers                         BIGINT,
    offer_rate                     DOUBLE,
    offer_rate_ci_low              DOUBLE,
    offer_rate_ci_high             DOUBLE,
    enough_data                    BOOLEAN
);
COMMENT ON TABLE marts.perception_gap IS 'Offer rate among decided interviews by the client''s own rating of how it went (1-5): does the feeling predict the outcome?';
COMMENT ON COLUMN marts.perception_gap.self_rating IS 'How well the client felt it went (1-5).';
COMMENT ON COLUMN marts.perception_gap.n IS 'Decided interviews in the cell.';
COMMENT ON COLUMN marts.perception_gap.offers IS 'Offers in the cell.';
COMMENT ON COLUMN marts.perception_gap.offer_rate IS 'offers / decided interviews; null without enough data.';
COMMENT ON COLUMN marts.perception_gap.offer_rate_ci_low IS 'Lower bound of the Wilson 95% interval of offer_rate.';
COMMENT ON COLUMN marts.perception_gap.offer_rate_ci_high IS 'Upper bound of the Wilson 95% interval of offer_rate.';
COMMENT ON COLUMN marts.perception_gap.enough_data IS 'The cell has at least 30 interviews (both arms, where there are two); when false no rate or estimate is given.';

CREATE TABLE IF NOT EXISTS marts.warm_prospects (
    tactic                         VARCHAR,
    n_with                         BIGINT,
    n_without                      BIGINT,
    referrals_with                 BIGINT,
    referrals_without              BIGINT,
    referral_rate_with             DOUBLE,
    referral_rate_with_ci_low      DOUBLE,
    referral_rate_with_ci_high     DOUBLE,
    referral_rate_without          DOUBLE,
    referral_rate_without_ci_low   DOUBLE,
    referral_rate_without_ci_high  DOUBLE,
    diff                           DOUBLE,
    diff_ci_low                    DOUBLE,
    diff_ci_high                   DOUBLE,
    enough_data                    BOOLEAN
);
COMMENT ON TABLE marts.warm_prospects IS 'Among decided interviews that did not end in an offer: how often the interviewer referred the client to another opportunity, with and without each tactic (crude, Newcombe CI).';
COMMENT ON COLUMN marts.warm_prospects.tactic IS 'Tactic id: asked_fit_question, asked_about_concerns, asked_about_ideal_candidate, asked_how_compare, addressed_concerns (the last among interviews where concerns were raised).';
COMMENT ON COLUMN marts.warm_prospects.n_with IS 'Decided non-offer interviews with the tactic.';
COMMENT ON COLUMN marts.warm_prospects.n_without IS 'Decided non-offer interviews without the tactic.';
COMMENT ON COLUMN marts.warm_prospects.referrals_with IS 'Referrals among non-offers with the tactic.';
COMMENT ON COLUMN marts.warm_prospects.referrals_without IS 'Referrals among non-offers without the tactic.';
COMMENT ON COLUMN marts.warm_prospects.referral_rate_with IS 'Referral rate among non-offers with the tactic; null without enough data.';
COMMENT ON COLUMN marts.warm_prospects.referral_rate_with_ci_low IS 'Lower bound of the Wilson 95% interval of referral_rate_with.';
COMMENT ON COLUMN marts.warm_prospects.referral_rate_with_ci_high IS 'Upper bound of the Wilson 95% interval of referral_rate_with.';
COMMENT ON COLUMN marts.warm_prospects.referral_rate_without IS 'Referral rate among non-offers without the tactic; null without enough data.';
COMMENT ON COLUMN marts.warm_prospects.referral_rate_without_ci_low IS 'Lower bound of the Wilson 95% interval of referral_rate_without.';
COMMENT ON COLUMN marts.warm_prospects.referral_rate_without_ci_high IS 'Upper bound of the Wilson 95% interval of referral_rate_without.';
COMMENT ON COLUMN marts.warm_prospects.diff IS 'Crude difference of referral rates, with minus without.';
COMMENT ON COLUMN marts.warm_prospects.diff_ci_low IS 'Lower bound of the Newcombe 95% interval of diff.';
COMMENT ON COLUMN marts.warm_prospects.diff_ci_high IS 'Upper bound of the Newcombe 95% interval of diff.';
COMMENT ON COLUMN marts.warm_prospects.enough_data IS 'The cell has at least 30 interviews (both arms, where there are two); when false no rate or estimate is given.';

CREATE TABLE IF NOT EXISTS marts.funnel_by_stage (
    stage                          VARCHAR,
    interviews                     BIGINT,
    decided                        BIGINT,
    offers                         BIGINT,
    next_rounds                    BIGINT,
    rejections                     BIGINT,
    withdrawals                    BIGINT,
    no_responses                   BIGINT,
    pending                        BIGINT,
    advanced                       BIGINT,
    offer_rate                     DOUBLE,
    offer_rate_ci_low              DOUBLE,
    offer_rate_ci_high             DOUBLE,
    advance_rate                   DOUBLE,
    advance_rate_ci_low            DOUBLE,
    advance_rate_ci_high           DOUBLE,
    enough_data                    BOOLEAN,
    stage_order                    BIGINT
);
COMMENT ON TABLE marts.funnel_by_stage IS 'Per interview stage: interviews, decided, how they ended, offer and advance rates.';
COMMENT ON COLUMN marts.funnel_by_stage.stage IS 'Interview round: phone_screen, recruiter, hiring_manager, panel, final, other.';
COMMENT ON COLUMN marts.funnel_by_stage.interviews IS 'Interviews (decided or pending).';
COMMENT ON COLUMN marts.funnel_by_stage.decided IS 'Interviews with an outcome.';
COMMENT ON COLUMN marts.funnel_by_stage.offers IS 'Interviews whose current outcome is an offer.';
COMMENT ON COLUMN marts.funnel_by_stage.next_rounds IS 'Interviews whose current outcome is next_round.';
COMMENT ON COLUMN marts.funnel_by_stage.rejections IS 'Interviews whose current outcome is rejected.';
COMMENT ON COLUMN marts.funnel_by_stage.withdrawals IS 'Interviews whose current outcome is withdrawn.';
COMMENT ON COLUMN marts.funnel_by_stage.no_responses IS 'Interviews whose current outcome is no_response.';
COMMENT ON COLUMN marts.funnel_by_stage.pending IS 'Interviews still waiting for an outcome.';
COMMENT ON COLUMN marts.funnel_by_stage.advanced IS 'Offers plus next rounds.';
COMMENT ON COLUMN marts.funnel_by_stage.offer_rate IS 'offers / decided interviews; null without enough data.';
COMMENT ON COLUMN marts.funnel_by_stage.offer_rate_ci_low IS 'Lower bound of the Wilson 95% interval of offer_rate.';
COMMENT ON COLUMN marts.funnel_by_stage.offer_rate_ci_high IS 'Upper bound of the Wilson 95% interval of offer_rate.';
COMMENT ON COLUMN marts.funnel_by_stage.advance_rate IS 'advanced / decided interviews; null without enough data.';
COMMENT ON COLUMN marts.funnel_by_stage.advance_rate_ci_low IS 'Lower bound of the Wilson 95% interval of advance_rate.';
COMMENT ON COLUMN marts.funnel_by_stage.advance_rate_ci_high IS 'Upper bound of the Wilson 95% interval of advance_rate.';
COMMENT ON COLUMN marts.funnel_by_stage.enough_data IS 'At least 30 decided interviews; when false no rate is given.';
COMMENT ON COLUMN marts.funnel_by_stage.stage_order IS 'Sort order of the stage in the interview process.';

CREATE TABLE IF NOT EXISTS marts.trends_by_month (
    month                          DATE,
    interviews                     BIGINT,
    asked                          BIGINT,
    decided                        BIGINT,
    offers                         BIGINT,
    ask_rate                       DOUBLE,
    ask_rate_ci_low                DOUBLE,
    ask_rate_ci_high               DOUBLE,
    offer_rate                     DOUBLE,
    offer_rate_ci_low              DOUBLE,
    offer_rate_ci_high             DOUBLE,
    enough_data                    BOOLEAN
);
COMMENT ON TABLE marts.trends_by_month IS 'Per month of interview date: interviews, how often the fit question was asked, offer rate.';
COMMENT ON COLUMN marts.trends_by_month.month IS 'First day of the month of the interview date.';
COMMENT ON COLUMN marts.trends_by_month.interviews IS 'Interviews (decided or pending).';
COMMENT ON COLUMN marts.trends_by_month.asked IS 'Interviews where the fit question was asked.';
COMMENT ON COLUMN marts.trends_by_month.decided IS 'Interviews with an outcome.';
COMMENT ON COLUMN marts.trends_by_month.offers IS 'Offers among the month''s interviews.';
COMMENT ON COLUMN marts.trends_by_month.ask_rate IS 'asked / interviews; null when the month has fewer than 30 interviews.';
COMMENT ON COLUMN marts.trends_by_month.ask_rate_ci_low IS 'Lower bound of the Wilson 95% interval of ask_rate.';
COMMENT ON COLUMN marts.trends_by_month.ask_rate_ci_high IS 'Upper bound of the Wilson 95% interval of ask_rate.';
COMMENT ON COLUMN marts.trends_by_month.offer_rate IS 'offers / decided; null without enough data.';
COMMENT ON COLUMN marts.trends_by_month.offer_rate_ci_low IS 'Lower bound of the Wilson 95% interval of offer_rate.';
COMMENT ON COLUMN marts.trends_by_month.offer_rate_ci_high IS 'Upper bound of the Wilson 95% interval of offer_rate.';
COMMENT ON COLUMN marts.trends_by_month.enough_data IS 'At least 30 decided interviews in the month; when false the offer rate is not given.';


CREATE TABLE IF NOT EXISTS marts.industry_groups (
    industry        VARCHAR,
    industry_group  VARCHAR,
    interviews      BIGINT
);
COMMENT ON TABLE marts.industry_groups IS 'Every industry spelling the firms used and the group the estimates put it in: case, spacing, punctuation and synonyms normalised; groups with fewer than 30 interviews (or 0.5% of all) pooled into other.';
COMMENT ON COLUMN marts.industry_groups.industry IS 'The industry as a firm wrote it (scrubbed).';
COMMENT ON COLUMN marts.industry_groups.industry_group IS 'The group it counts in.';
COMMENT ON COLUMN marts.industry_groups.interviews IS 'Interviews with this spelling.';

CREATE TABLE IF NOT EXISTS marts.rounds_by_status (
    firm_id                  VARCHAR,
    round_status             VARCHAR,
    rounds                   BIGINT,
    clients                  BIGINT,
    advances_inferred        BIGINT,
    corrected_after_outcome  BIGINT,
    is_used                  BOOLEAN
);
COMMENT ON TABLE marts.rounds_by_status IS 'Per firm, which rounds the estimates use and why the others are left out.';
COMMENT ON COLUMN marts.rounds_by_status.firm_id IS 'The coaching firm.';
COMMENT ON COLUMN marts.rounds_by_status.round_status IS 'advanced (offer or next round, or followed by a later round of the same application), not_advanced (rejected, no response), withdrawn (the client''s choice: left out), pending (no outcome yet: left out), debrief_after_outcome (every debrief written after the outcome was known: left out).';
COMMENT ON COLUMN marts.rounds_by_status.rounds IS 'Interviews (rounds) with this status.';
COMMENT ON COLUMN marts.rounds_by_status.clients IS 'Distinct clients among them.';
COMMENT ON COLUMN marts.rounds_by_status.advances_inferred IS 'Rounds counted as advanced because a later round of the same application exists (the firm reported only the final result).';
COMMENT ON COLUMN marts.rounds_by_status.corrected_after_outcome IS 'Rounds whose debrief was corrected after the outcome was known: the correction is kept in the log but not used (hindsight).';
COMMENT ON COLUMN marts.rounds_by_status.is_used IS 'Whether rounds of this status enter the estimates.';
