import logging

from zoho_pipelines.redaction import MASK, RedactingFilter, redact, register_secret


def test_registered_secrets_are_masked_anywhere():
    register_secret("a-registered-secret-value")
    assert redact("boom: a-registered-secret-value!") == f"boom: {MASK}!"


def test_credential_shaped_text_is_masked_even_when_unregistered():
    samples = {
        "Authorization: Zoho-oauthtoken 1000.abcdef.123456": "1000.abcdef.123456",
        "POST refresh_token=1000.zzz&client_id=x": "1000.zzz",
        '{"access_token": "1000.tok", "expires_in": 3600}': "1000.tok",
        "client_secret=hunter2hunter2": "hunter2hunter2",
        "X-Zoho-Secret: webhook-value": "webhook-value",
    }
    for text, secret in samples.items():
        cleaned = redact(text)
        assert secret not in cleaned, text
        assert MASK in cleaned


def test_ordinary_text_is_left_alone():
    text = "fetched 200 records of Deals page 3 in 0.12 s"
    assert redact(text) == text


def test_filter_masks_messages_arguments_and_tracebacks():
    register_secret("tb-secret-0000")
    records = []

    class Collect(logging.Handler):
        def emit(self, record):
            records.append(self.format(record))

    handler = Collect()
    handler.addFilter(RedactingFilter())
    logger = logging.getLogger("zoho_pipelines.test_redaction")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("token %s rejected", "tb-secret-0000")
        try:
            raise RuntimeError("failed with tb-secret-0000")
        except RuntimeError:
            logger.exception("call failed")
    finally:
        logger.removeHandler(handler)
    assert len(records) == 2
    assert all("tb-secret-0000" not in line for line in records)
    assert "token *** rejected" in records[0]
    assert "RuntimeError" in records[1]
