# Images synthesised to drive chosen ROIs (BrainDiVE, `neurodecode dive`), one job per subject:
# guided sampling of the diffusion model by the gradient of the subject's CLIP-image encoder
# (the encode stage's model of one feature space), per ROI and for one contrast. Optional: the
# rule exists only when the config has a `dive` section (on in the default experiment for the
# face, place, body and word ROIs, with the shipped toy diffusion model); its results join the
# report. The job runs on CUDA when the profile grants it a `gpu` resource (profiles/slurm).

DIVE_STEM = "sub-{subject}/sub-{subject}_desc-dive"
DIVE_OUTPUTS = {
    "results": f"{DIVE_STEM}_results.json",
    "images": f"{DIVE_STEM}_images.npz",
}


if "dive" in config:
    DIVE_CONFIG = config["dive"] or {}
    DIVE_SPACE = DIVE_CONFIG.get("features", "clipimage")
    if DIVE_SPACE not in SPACES:
        raise ValueError(
            f"config: dive/features: {DIVE_SPACE!r} is not a feature space ({', '.join(SPACES)})"
        )
    REPORT_INPUTS.append(DIVE_OUTPUTS["results"])

    rule dive:
        input:
            cache=PREPARED,
            encoder=ENCODER.replace("{fspace}", DIVE_SPACE),
        output:
            **DIVE_OUTPUTS,
            sidecar=sidecar(DIVE_OUTPUTS["results"]),
        conda:
            ENV
        log:
            "logs/dive/sub-{subject}.log",
        params:
            grid=GRID,
            seed=SEED,
            clip_model=feature_option(DIVE_SPACE, "extractor"),
            options=flags(DIVE_CONFIG, skip=("features",)),
            device=device,
        shell:
            "neurodecode dive --subject {wildcards.subject:q} --cache . --space {params.grid:q}"
            " --encoder {input.encoder:q} --clip-model {params.clip_model:q} {params.options}"
            " --seed {params.seed} --device {params.device:q} --out sub-{wildcards.subject:q}"
            " > {log:q} 2>&1"
