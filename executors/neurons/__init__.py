"""executors/neurons: HyPS hybrid plans (layer cuts + neuron splits)."""
