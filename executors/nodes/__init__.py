"""executors/nodes: HiDP two-level plans (node rows + processor shares)."""
