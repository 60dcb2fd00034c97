# BrainSCUBA voxel-selectivity captions (`neurodecode scuba`): one shared image bank
# (`neurodecode image-bank`: by default images the synthetic world's generator makes beyond its
# pool; `bank_images: DIR` embeds a folder instead, as a real release needs), then one job per
# subject that projects every voxel's CLIP-image encoder direction onto the bank and captions
# it. Optional: the rules exist only when the config has a `scuba` section (on in the default
# experiment, with the shipped toy ClipCap); its outputs join the report. The jobs run on CUDA
# when the profile grants them a `gpu` resource (profiles/slurm).

SCUBA_STEM = "sub-{subject}/sub-{subject}"
SCUBA_OUTPUTS = {
    "captions": f"{SCUBA_STEM}_desc-scuba_captions.tsv",
    "words": f"{SCUBA_STEM}_desc-scuba_words.tsv",
    "wordmaps": f"{SCUBA_STEM}_space-{GRID}_desc-scuba_wordmaps.nii.gz",
    "results": f"{SCUBA_STEM}_desc-scuba_results.json",
}


if "scuba" in config:
    SCUBA_CONFIG = config["scuba"] or {}
    SCUBA_SPACE = SCUBA_CONFIG.get("features", "clipimage")
    if SCUBA_SPACE not in SPACES:
        raise ValueError(
            f"config: scuba/features: {SCUBA_SPACE!r} is not a feature space ({', '.join(SPACES)})"
        )
    SCUBA_BANK = f"image-bank/image-bank_desc-{SCUBA_SPACE}_features.h5"
    SCUBA_BANK_IMAGES = SCUBA_CONFIG.get("bank_images")
    _BANK_KEYS = ("features", "bank_size", "bank_images", "bank_chunk_rows")
    REPORT_INPUTS.extend(SCUBA_OUTPUTS.values())

    rule scuba_bank:
        input:
            root=DATA_ROOT,
        output:
            bank=SCUBA_BANK,
            sidecar=sidecar(SCUBA_BANK),
            images=SCUBA_BANK.replace(".h5", "_images.tsv"),
        conda:
            ENV
        log:
            "logs/scuba/image-bank.log",
        params:
            options_source=(
                f"--images {quoted([SCUBA_BANK_IMAGES])}"
                if SCUBA_BANK_IMAGES
                else f"--world {quoted([DATA_ROOT])}"
            ),
            model=feature_option(SCUBA_SPACE, "extractor"),
            size=SCUBA_CONFIG.get("bank_size", 100_000),
            chunk_rows=SCUBA_CONFIG.get("bank_chunk_rows", 16_384),
            device=device,
        shell:
            "neurodecode image-bank {params.options_source} --model {params.model:q} --size {params.size:q}"
            " --chunk-rows {params.chunk_rows:q} --device {params.device:q} --out {output.bank:q}"
            " --no-progress > {log:q} 2>&1"

    rule scuba:
        input:
            cache=PREPARED,
            encoder=ENCODER.replace("{fspace}", SCUBA_SPACE),
            bank=SCUBA_BANK,
        output:
            **SCUBA_OUTPUTS,
            sidecar=sidecar(SCUBA_OUTPUTS["results"]),
        conda:
            ENV
        log:
            "logs/scuba/sub-{subject}.log",
        params:
            grid=GRID,
            seed=SEED,
            options=flags(SCUBA_CONFIG, skip=_BANK_KEYS),
            device=device,
        shell:
            "neurodecode scuba --subject {wildcards.subject:q} --cache . --space {params.grid:q}"
            " --encoder {input.encoder:q} --bank {input.bank:q} {params.options}"
            " --seed {params.seed} --device {params.device:q} --out sub-{wildcards.subject:q}"
            " > {log:q} 2>&1"
