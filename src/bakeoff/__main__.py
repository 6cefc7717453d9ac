from bakeoff.cli import app

app(prog_name="bakeoff")
