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
            dataset=DATASET,
            preset=config["synth"]["preset"],
            seed=config["synth"].get("seed", config["seed"]),
            subjects=" ".join(SUBJECTS),
        shell:
            "neurodecode synth {params.dataset} --preset {params.preset} --seed {params.seed}"
            " --subjects {params.subjects} --out {output} > {log} 2>&1"


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
        dataset=DATASET,
    shell:
        "neurodecode data verify --dataset {params.dataset} --root {input}"
        " --subject {wildcards.subject} --out {output.report} > {log} 2>&1"


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
        dataset=DATASET,
        grid=GRID,
    shell:
        "neurodecode prepare --dataset {params.dataset} --root {input.root}"
        " --subject {wildcards.subject} --space {params.grid} --out {output.cache}"
        " --no-progress > {log} 2>&1"
