"""The Slack app: a door of its own (docs/slack.md). Slack's signed requests file near-misses through the services."""
