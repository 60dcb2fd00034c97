# Contrastive fMRI -> CLIP encoder and N-way retrieval, one per subject. Optional: the rule
# exists only when the config has a `contrastive` section naming its CLIP image feature space
# (the toy CLIP space `clipimage` in the default experiment); its retrieval results join the
# report. The stage trains on CUDA when the profile grants the job a `gpu` resource
# (profiles/slurm), on the CPU otherwise, with as many torch threads as the rule's threads.

CONTRASTIVE = "sub-{subject}/sub-{subject}_desc-contrastive_retrieval.json"
CONTRASTIVE_MODEL = "sub-{subject}/sub-{subject}_desc-contrastive_model"
CONTRASTIVE_PREDICTIONS = "sub-{subject}/sub-{subject}_desc-contrastive_predictions.h5"


if "contrastive" in config:
    CONTRASTIVE_CONFIG = config["contrastive"]
    CONTRASTIVE_SPACES = {
        key: CONTRASTIVE_CONFIG[key]
        for key in ("features", "text_features")
        if key in CONTRASTIVE_CONFIG
    }
    for key, name in CONTRASTIVE_SPACES.items():
        if name not in SPACES:
            raise ValueError(f"config: contrastive/{key}: {name!r} is not one of {SPACES}")
    REPORT_INPUTS.append(CONTRASTIVE)

    rule contrastive:
        input:
            cache=PREPARED,
            features=expand(FEATURES, fspace=CONTRASTIVE_SPACES["features"], allow_missing=True),
            text=expand(
                FEATURES, fspace=CONTRASTIVE_SPACES.get("text_features", []), allow_missing=True
            ),
        output:
            retrieval=CONTRASTIVE,
            sidecar=sidecar(CONTRASTIVE),
            model=directory(CONTRASTIVE_MODEL),
            predictions=CONTRASTIVE_PREDICTIONS,
        conda:
            ENV
        log:
            "logs/contrastive/sub-{subject}.log",
        params:
            grid=GRID,
            seed=SEED,
            text=lambda wc, input: (
                f"--text-features {quoted(input.text)}" if input.text else ""
            ),
            options=flags(CONTRASTIVE_CONFIG, skip=("features", "text_features")),
            device=device,
        shell:
            "neurodecode contrastive --subject {wildcards.subject:q} --cache ."
            " --space {params.grid:q} --features {input.features:q} {params.text}"
            " {params.options} --seed {params.seed} --device {params.device:q}"
            " --threads {threads:q} --out sub-{wildcards.subject:q} > {log:q} 2>&1"
