# Captions decoded from brain activity (`neurodecode caption`), one job per subject. Optional:
# the rule exists only when the config has a `caption` section (on in the default experiment,
# with the shipped toy GIT); its results join the report. The stage runs the captioner and the
# metric embedders on CUDA when the profile grants the job a `gpu` resource (profiles/slurm).

CAPTION = "sub-{subject}/sub-{subject}_desc-caption_results.json"
CAPTION_DECODER = "sub-{subject}/sub-{subject}_desc-caption_decoder"


if "caption" in config:
    CAPTION_CONFIG = config["caption"]
    REPORT_INPUTS.append(CAPTION)

    rule caption:
        input:
            cache=PREPARED,
        output:
            results=CAPTION,
            sidecar=sidecar(CAPTION),
            decoder=directory(CAPTION_DECODER),
        conda:
            ENV
        log:
            "logs/caption/sub-{subject}.log",
        params:
            grid=GRID,
            seed=SEED,
            options=flags(CAPTION_CONFIG),
            device=device,
        shell:
            "neurodecode caption --subject {wildcards.subject:q} --cache . --space {params.grid:q}"
            " {params.options} --seed {params.seed} --device {params.device:q}"
            " --out sub-{wildcards.subject:q} > {log:q} 2>&1"
