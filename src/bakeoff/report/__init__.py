"""Reports: views of the results database."""
