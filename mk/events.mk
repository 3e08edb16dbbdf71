# Live-event scaling (issue 8): season replay of the calendar through the scaling plan.
.PHONY: simulate-season

simulate-season: venv ## Replay simulation/season.yml through the event-scaling plan (docs/live-events.md + PNG)
	@python simulation/replay.py
