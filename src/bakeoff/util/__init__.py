"""The bottom layer: small helpers with no bakeoff imports above them (image wire encoding, YAML
reading with line numbers, answer normalisation). Any layer may import from here."""
