# Two commands on a fresh clone: `make demo` and `make test` (each creates and fills .venv if missing).
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp

.PHONY: demo test test-slow test-sweeps test-all bench lint clean reproduce-distredge reproduce-hyps reproduce-msmdi reproduce-nptp \
        reproduce-hidp reproduce-models reproduce-splits rerun-results

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $(STAMP)

# Profile this CPU on VGG-16; plan it on DistrEdge's group DB (2 Xavier + 2 Nano, derived) at
# 300 Mbps with the equal split and simulate it; then train DistrEdge's DDPG on the same scenario
# for a short run and print the learned plan next to the equal split and Offload.
demo: $(STAMP)
	SPLITGYM_HOME=runs/demo $(VENV)/bin/splitgym profile --model vgg16 --quiet
	SPLITGYM_HOME=runs/demo $(VENV)/bin/splitgym plan equal --model vgg16 --devices DB --bandwidth 300 \
	  --partition stages -o runs/demo/plan-equal.json
	SPLITGYM_HOME=runs/demo $(VENV)/bin/splitgym simulate runs/demo/plan-equal.json
	SPLITGYM_HOME=runs/demo $(VENV)/bin/splitgym train experiment=demo hydra.run.dir=runs/demo/train
	SPLITGYM_HOME=runs/demo $(VENV)/bin/splitgym evaluate runs/demo/train
	@echo "TensorBoard: $(VENV)/bin/tensorboard --logdir runs/demo/train/tb"

test: $(STAMP)
	$(VENV)/bin/pytest -q -m "not slow and not gpu"

test-slow: $(STAMP)
	$(VENV)/bin/pytest -q -m "slow and not gpu and not sweeps"

# The Optuna sweeper pins optuna<3 and rl-zoo3 (in .[test]) needs optuna>=3: the sweep and launcher
# tests (tests/test_sweeps.py: Optuna, submitit, Ray) run in their own environment.
SWEEPS_VENV := .venv-sweeps
# It borrows the main environment's packages (torch is 5 GB) through a .pth line placed after its
# own site-packages, so its own optuna 2 and joblib shadow the main ones without touching them.
$(SWEEPS_VENV)/.installed-stamp: $(STAMP)
	test -x $(SWEEPS_VENV)/bin/python || $(PYTHON) -m venv $(SWEEPS_VENV)
	$(PY) -c "import sysconfig; print(sysconfig.get_paths()['purelib'])" > \
	  "$$($(SWEEPS_VENV)/bin/python -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")/_main_env.pth"
	$(SWEEPS_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -e '.[test-core,sweeps,cluster]'
	touch $@

test-sweeps: $(SWEEPS_VENV)/.installed-stamp
	$(SWEEPS_VENV)/bin/python -m pytest -q -m "sweeps and not gpu" tests/test_sweeps.py

test-all: test test-slow test-sweeps

# DistrEdge's Tables I-III, the a sweep, other models and the thesis (8 groups x GPU-shaped/linear
# boards x paper/ours): ~290 training runs of 1000-4000 episodes, seeds 0-2 (about 1.5 min each on
# 2 cores; ~7 h); finished runs are reused. Then the dynamic-network run, LC-PSS's sample study, the
# best classical plans and the claims table. CSV + PNG in experiments/results/.
DISTREDGE_SEEDS = 0,1,2
reproduce-distredge: $(STAMP)
	for t in table1 table2 table3 alpha models; do $(PY) -m splitgym.experiments.distredge_tables $$t --seeds $(DISTREDGE_SEEDS) || exit 1; done
	$(PY) -m splitgym.experiments.distredge_thesis --seeds $(DISTREDGE_SEEDS)
	$(PY) -m splitgym.experiments.distredge_dynamic
	$(PY) -m splitgym.experiments.lcpss_samples
	$(PY) -m splitgym.experiments.distredge_models_extra
	$(PY) -m splitgym.experiments.distredge_baselines
	$(PY) -m splitgym.experiments.distredge_plan_loads
	$(PY) -m splitgym.experiments.distredge_claims

# DistrEdge's other models alone (YOLOv2, SSD-VGG16, SSD-ResNet50, OpenPose beside VGG-16, ResNet-50,
# Inception-v3): the classical plans on DB at 50 Mbps and NA (~1 min once profiled), then the
# trained table (24 runs, ~30 min).
reproduce-models: $(STAMP)
	$(PY) -m splitgym.experiments.distredge_models_extra
	$(PY) -m splitgym.experiments.distredge_tables models --seeds $(DISTREDGE_SEEDS)

# MS-MDI Section 5 on the queueing simulator (a few minutes), after a PPO admission policy is
# trained per worker count and seed 0-2 (~30 min on 2 cores; finished runs are reused; each run
# folder records its commit first, so the learned rows carry it); then AR-MDI's allocation
# and the starvation of the sources' MDI queues (msmdi_mechanisms), the tie/idle rules, the load
# regimes and joining/leaving workers (msmdi_regimes, ~15 min of CPU), and the env's action-check
# benchmark. CSV + MD + PNG in experiments/results/.
MSMDI_TRAIN = env=msmdi agent=ppo episodes=120 'env.images=[300,900]' env.eval_episodes=3
reproduce-msmdi: $(STAMP)
	for n in 5 3 2; do for s in 0 1 2; do r=runs/msmdi-ppo-ms$$n-s$$s; test -f $$r/export/policy.zip || { \
	  $(PY) -m splitgym.experiments.stamp_run runs/msmdi-ppo-ms$$n-s$$s splitgym train $(MSMDI_TRAIN) env.scenario=ms-mdi-$$n seed=$$s && \
	  nice -n 19 $(VENV)/bin/splitgym train $(MSMDI_TRAIN) env.scenario=ms-mdi-$$n seed=$$s hydra.run.dir=$$r; } \
	  || exit 1; done; done
	$(PY) -m splitgym.experiments.msmdi_tables --seeds 2 --learned runs/msmdi-ppo-ms[532]-s[012]
	$(PY) -m splitgym.experiments.msmdi_mechanisms
	$(PY) -m splitgym.experiments.msmdi_regimes all --seeds 2
	$(PY) -m splitgym.experiments.msmdi_claims
	$(PY) -m splitgym.experiments.bench_queueing
	$(PY) -m splitgym.experiments.bench_msmdi_env
	for n in 3 2; do $(PY) -m splitgym.experiments.mdi_ring_run --workers $$n --sources 0 1 --rates 30 60 --images 30 60 \
	  --policies ms-mdi ar-mdi local learned --learned runs/msmdi-ppo-ms$$n-s0 --csv experiments/results/msmdi_ring.csv \
	  || exit 1; done

# NPTP's Figs. 4-6 on the tile cost model (end-to-end: input scatter + 2 ms per message; then the
# paper's Eq. 9 alone, files *_eq9.*), MPA's gap to the grid optimum and its search time at
# 4096, PPO/DDPG on NPTP-v0 (6 training runs of 1-3 min x 3 seeds; finished runs are reused), and the tile
# executors against the cost model (netns links where root; run it on a quiet machine, ~10 min).
reproduce-nptp: $(STAMP)
	$(PY) -m splitgym.experiments.nptp_tables all
	$(PY) -m splitgym.experiments.nptp_tables all --objective eq9
	$(PY) -m splitgym.experiments.nptp_tables search-time
	$(PY) -m splitgym.experiments.nptp_tables ppo
	$(PY) -m splitgym.experiments.predicted_vs_measured_tiles
	$(PY) -m splitgym.experiments.nptp_claims

# HiDP's Figs. 1, 5-8 and its claims on the two-level cost model (derived profiles), a GPU-efficiency
# run and the DP's time (a few minutes), then the bandwidth x GPU-efficiency sweeps that explain
# each gap (~30 min on 2 cores). CSV + PNG in experiments/results/.
reproduce-hidp: $(STAMP)
	$(PY) -m splitgym.experiments.hidp_tables
	$(PY) -m splitgym.experiments.hidp_tables --gpu-efficiency 0.1
	$(PY) -m splitgym.experiments.hidp_dp
	$(PY) -m splitgym.experiments.hidp_sensitivity
	$(PY) -m splitgym.experiments.hidp_claims_table

# The README's benchmark tables on the named test splits (issue #19): PPO on MSMDI-v1's train
# distribution (3 seeds x 40 episodes; each run folder stamped with its commit first; trained runs
# reused), then `splitgym benchmark` on msmdi-v1/test, hidp-v0/test and nptp-v1/test. Runs under
# runs/split_benchmarks/; CSV + MD + PNG in experiments/results/split_bench_{msmdi,hidp,nptp}.*.
reproduce-splits: $(STAMP)
	nice -n 10 $(PY) -m splitgym.experiments.split_benchmarks

# Every benchmark in a quick mode, one table with ratios against anchors measured in the same run
# (CartPole/Pendulum step rates, SB3 DDPG on Pendulum, brute force, the batched simulator); a few
# minutes on 2 cores. experiments/results/bench.csv + bench.md; then the DistrEdge claims table (its
# Sec. V-F row quotes AOFL's plan time from bench.csv) and the README figures that quote bench.csv.
bench: $(STAMP)
	$(PY) -m splitgym.experiments.bench_all
	$(PY) -m splitgym.experiments.distredge_claims > /dev/null
	$(PY) -m splitgym.experiments.readme_figures --write

# Every result the README quotes, re-made on this commit in order (cost-model tables first, then the
# trainings, 3 seeds where training is involved; ~11 h on 2 cores by the thesis runs' wall_s), then
# the README's tables regenerated and every CSV checked for stale rows. `python -m
# splitgym.experiments.rerun_results` alone lists the steps and their estimates.
rerun-results: $(STAMP)
	$(PY) -m splitgym.experiments.rerun_results --run

lint: $(STAMP)
	$(VENV)/bin/ruff check costmodels agents envs executors experiments tests setup.py
	$(VENV)/bin/ruff format --check costmodels agents envs executors experiments tests setup.py

clean:
	rm -rf runs .pytest_cache .hypothesis

# HyPS on VGG-16 and derived Pi 3B+ profiles: fc6 in 4..50 neuron parts, partitions ending at conv
# vs pool, the 21 layers one by one (Figs. 8/9, with a real hub run), and the fc6 parts run for
# real by the hub executor; then the worker's memory measured again against the shipped
# calibration (costmodels/data/hyps_memory.json; --check writes nothing). About ten minutes.
# CSV + PNG in experiments/results/hyps_*.
reproduce-hyps: $(STAMP)
	$(PY) -m splitgym.experiments.hyps_tables all
	$(PY) -m splitgym.experiments.hyps_memory --check
	$(PY) -m splitgym.experiments.hyps_claims_table
