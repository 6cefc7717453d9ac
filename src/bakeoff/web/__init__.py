"""`bakeoff view`: a local results browser with blind A/B rating, bound to 127.0.0.1 only."""
