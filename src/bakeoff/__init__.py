"""bakeoff: field-test open models on your own work."""

__version__ = "0.1.0"
