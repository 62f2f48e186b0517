"""Detection rules and recovery policies.  They see only :class:`sim.observe.Observation`
(and their configs), never the ground truth."""
