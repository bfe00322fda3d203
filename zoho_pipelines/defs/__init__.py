"""The Dagster layer: thin wiring of the plain modules into assets, checks, jobs and sensors."""
