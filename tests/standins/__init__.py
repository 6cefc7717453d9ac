"""Local stand-ins for services that cannot run here (OpenAI, Anthropic, Gemini, Ollama's binary).

Each speaks its vendor's real HTTP protocol on 127.0.0.1, with bodies, streaming chunks, usage,
errors and rate-limit headers shaped as the vendor's documentation shows, and can be told to
misbehave (429, 500, a dropped connection, a hang, a malformed chunk) for the next requests.
"""
