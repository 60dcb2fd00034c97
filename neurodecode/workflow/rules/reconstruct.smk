# Images reconstructed from brain activity (`neurodecode reconstruct`), one job per subject.
# Optional: the rule exists only when the config has a `reconstruct` section (on in the
# default experiment, with the shipped toy latent-diffusion model); its results join the
# report. The stage runs the diffusion model and the metric backbones on CUDA when the profile
# grants the job a `gpu` resource (profiles/slurm).

RECONSTRUCT = "sub-{subject}/sub-{subject}_desc-recon_results.json"
RECONSTRUCT_IMAGES = "sub-{subject}/sub-{subject}_desc-recon_images.npz"
RECONSTRUCT_DECODERS = "sub-{subject}/sub-{subject}_desc-recon_decoders"


if "reconstruct" in config:
    RECONSTRUCT_CONFIG = config["reconstruct"]
    # `embeddings: contrastive` conditions on the contrastive encoder's test predictions
    RECONSTRUCT_EMBEDDINGS = RECONSTRUCT_CONFIG.get("embeddings", "ridge")
    if RECONSTRUCT_EMBEDDINGS == "contrastive" and "contrastive" not in config:
        raise ValueError("config: reconstruct/embeddings: contrastive needs a contrastive section")
    REPORT_INPUTS.append(RECONSTRUCT)

    rule reconstruct:
        input:
            cache=PREPARED,
            embeddings=[CONTRASTIVE_PREDICTIONS] if RECONSTRUCT_EMBEDDINGS == "contrastive" else [],
        output:
            results=RECONSTRUCT,
            sidecar=sidecar(RECONSTRUCT),
            images=RECONSTRUCT_IMAGES,
            decoders=directory(RECONSTRUCT_DECODERS),
        conda:
            ENV
        log:
            "logs/reconstruct/sub-{subject}.log",
        params:
            grid=GRID,
            seed=SEED,
            options=flags(RECONSTRUCT_CONFIG, skip=("embeddings",)),
            options_embeddings=lambda wc, input: (
                f"--embeddings {quoted(input.embeddings)}" if input.embeddings else ""
            ),
            device=device,
        shell:
            "neurodecode reconstruct --subject {wildcards.subject:q} --cache . --space {params.grid:q}"
            " {params.options} {params.options_embeddings} --seed {params.seed} --device {params.device:q}"
            " --out sub-{wildcards.subject:q} > {log:q} 2>&1"
