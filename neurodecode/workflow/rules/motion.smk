# Optical-flow motion decoding from fMRI (`neurodecode motion`), one job per subject. Optional:
# the rule exists only when the config has a `motion` section naming the flow feature space of
# the clips (e.g. `disflow`, extracted by `dis-flow`); its results join the report. The
# codebook decoder trains on CUDA when the profile grants the job a `gpu` resource.

MOTION = "sub-{subject}/sub-{subject}_desc-motion_results.json"
MOTION_MODELS = "sub-{subject}/sub-{subject}_desc-motion_models"
MOTION_ANIMATIONS = "sub-{subject}/sub-{subject}_desc-motion_animations"
MOTION_FLOWS = "sub-{subject}/sub-{subject}_desc-motion{decoder}_flows.h5"


if "motion" in config:
    MOTION_CONFIG = config["motion"]
    if MOTION_CONFIG["flow"] not in SPACES:
        raise ValueError(f"config: motion/flow: {MOTION_CONFIG['flow']!r} is not one of {SPACES}")
    MOTION_DECODERS = MOTION_CONFIG.get("decoders", ["ridge", "codebook"])
    REPORT_INPUTS.append(MOTION)

    rule motion:
        input:
            cache=PREPARED,
            flow=expand(FEATURES, fspace=MOTION_CONFIG["flow"], allow_missing=True),
        output:
            results=MOTION,
            sidecar=sidecar(MOTION),
            flows=expand(MOTION_FLOWS, decoder=MOTION_DECODERS, allow_missing=True),
            models=directory(MOTION_MODELS),
            animations=directory(MOTION_ANIMATIONS),
        conda:
            ENV
        log:
            "logs/motion/sub-{subject}.log",
        params:
            grid=GRID,
            seed=SEED,
            options=flags(MOTION_CONFIG, skip=("flow",)),
            device=device,
        shell:
            "neurodecode motion --subject {wildcards.subject:q} --cache . --space {params.grid:q}"
            " --flow {input.flow:q} {params.options} --threads {threads:q}"
            " --seed {params.seed} --device {params.device:q}"
            " --out sub-{wildcards.subject:q} > {log:q} 2>&1"
