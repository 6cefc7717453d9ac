"""Settings read once at start-up."""

MAX_RETRIES = 3
TAX_RATE = 0.2
CURRENCY = "EUR"


def parse_config(text):
    """Parse KEY=VALUE lines into a dict; blank lines and # comments are skipped."""
    settings = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, _, value = line.partition("=")
        settings[key.strip()] = value.strip()
    return settings
