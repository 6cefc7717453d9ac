"""Plan, schedule and execute trials; resume what an interrupted run left."""
