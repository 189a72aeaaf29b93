"""The REST toolkit every app's API is built with: the error envelope, money and text fields,
the JSON parser, Idempotency-Key replay, throttles, pagination and the schema helpers."""
