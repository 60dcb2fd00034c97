# Contrastive fMRI -> CLIP encoder and N-way retrieval, one per subject. Optional: the rule
# exists only when the config has a `contrastive` section naming its CLIP image feature space
# (the toy CLIP space `clipimage` in the default experiment). The stage trains on CUDA when
# the profile grants the job a `gpu` resource (profiles/slurm), on the CPU otherwise.

CONTRASTIVE = "sub-{subject}/sub-{subject}_desc-contrastive_retrieval.json"
CONTRASTIVE_SIDECAR = "sub-{subject}/sub-{subject}_desc-contrastive_retrieval.meta.json"
CONTRASTIVE_MODEL = "sub-{subject}/sub-{subject}_desc-contrastive_model"


if "contrastive" in config:
    CONTRASTIVE_SPACES = {
        key: config["contrastive"][key]
        for key in ("features", "text_features")
        if key in config["contrastive"]
    }
    for key, name in CONTRASTIVE_SPACES.items():
        if name not in SPACES:
            raise ValueError(f"config: contrastive/{key}: {name!r} is not one of {SPACES}")
    CONTRASTIVE_ROI = config["contrastive"].get("roi")

    rule contrastive:
        input:
            cache=PREPARED,
            features=expand(FEATURES, fspace=CONTRASTIVE_SPACES["features"], allow_missing=True),
            text=expand(
                FEATURES, fspace=CONTRASTIVE_SPACES.get("text_features", []), allow_missing=True
            ),
        output:
            retrieval=CONTRASTIVE,
            sidecar=CONTRASTIVE_SIDECAR,
            model=directory(CONTRASTIVE_MODEL),
        conda:
            ENV
        log:
            "logs/contrastive/sub-{subject}.log",
        params:
            grid=GRID,
            preset=config["contrastive"]["preset"],
            n_way=config["contrastive"]["n_way"],
            n_draws=config["contrastive"]["n_draws"],
            seed=config["seed"],
            optional=lambda wc, input: " ".join(
                ([f"--text-features {input.text}"] if input.text else [])
                + ([f"--roi {CONTRASTIVE_ROI}"] if CONTRASTIVE_ROI else [])
            ),
            device=lambda wc, resources: "cuda" if getattr(resources, "gpu", 0) else "cpu",
        shell:
            "neurodecode contrastive --subject {wildcards.subject} --cache-dir ."
            " --space {params.grid} --features {input.features} {params.optional}"
            " --preset {params.preset}"
            " --n-way {params.n_way} --n-draws {params.n_draws} --seed {params.seed}"
            " --device {params.device} --out sub-{wildcards.subject} > {log} 2>&1"
