"""agents/planners/stages: MS-MDI pipeline stages on a ring of workers."""
