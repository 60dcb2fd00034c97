# Release access: (optionally) synthesise the world, verify the release, prepare the cache.


if "synth" in config:

    rule synth:
        output:
            directory(DATA_ROOT),
        conda:
            ENV
        log:
            "logs/synth.log",
        params:
            dataset=DATASET.name,
            preset=config["synth"]["preset"],
            seed=config["synth"].get("seed", SEED),
            subjects=SUBJECTS,
        shell:
            "neurodecode synth {params.dataset:q} --preset {params.preset:q} --seed {params.seed}"
            " --subjects {params.subjects:q} --out {output:q} > {log:q} 2>&1"


rule verify:
    input:
        DATA_ROOT,
    output:
        report=VERIFY,
    conda:
        ENV
    log:
        "logs/verify/sub-{subject}.log",
    params:
        dataset=DATASET.name,
    shell:
        "neurodecode data verify --dataset {params.dataset:q} --root {input:q}"
        " --subject {wildcards.subject:q} --out {output.report:q} > {log:q} 2>&1"


rule prepare:
    input:
        root=DATA_ROOT,
        verified=VERIFY,
    output:
        cache=PREPARED,
        sidecar=sidecar(PREPARED),
    conda:
        ENV
    log:
        "logs/prepare/sub-{subject}.log",
    params:
        dataset=DATASET.name,
        grid=GRID,
    shell:
        "neurodecode prepare --dataset {params.dataset:q} --root {input.root:q}"
        " --subject {wildcards.subject:q} --space {params.grid:q} --out {output.cache:q}"
        " --no-progress > {log:q} 2>&1"
