"""agents/planners/neurons: HyPS hybrid plans (layer cuts + neuron splits)."""
