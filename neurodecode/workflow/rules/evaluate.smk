# Per-ROI summary of the voxelwise scores: means, bootstrap CIs, noise ceilings, best space.
# Each feature space's own encoding ROI table (r, noise-normalised score, 2 vs 2) goes to the
# report too.

REPORT_INPUTS += [ENCODE_ROIS.replace("{fspace}", space) for space in SPACES]


rule evaluate:
    input:
        root=DATA_ROOT,
        scores=expand(SCOREMAP, fspace=SPACES, allow_missing=True),
        noise_ceiling=expand(NOISECEILING, fspace=SPACES[0], allow_missing=True),
    output:
        table=ROITABLE,
        sidecar=sidecar(ROITABLE),
    conda:
        ENV
    log:
        "logs/evaluate/sub-{subject}.log",
    params:
        scores=lambda wc, input: pairs(dict(zip(SPACES, input.scores, strict=True))),
        rois=evaluate_rois,
        metric=METRIC,
        n_bootstrap=config["evaluate"].get("n_bootstrap", 1000),
        ci=config["evaluate"].get("ci", 0.95),
        seed=SEED,
    shell:
        "neurodecode evaluate --scores {params.scores} {params.rois}"
        " --noise-ceiling {input.noise_ceiling:q} --metric {params.metric:q}"
        " --n-bootstrap {params.n_bootstrap} --ci {params.ci} --seed {params.seed}"
        " --out {output.table:q} > {log:q} 2>&1"
