"""Decoders: from brain activity to stimuli, captions and motion.

A layer of its own between :mod:`neurodecode.report` and :mod:`neurodecode.encoders`: decoders
may use fitted encoders (``RidgeEncoder.load``, ``.to_torch()``), encoders never import
decoders. Generative decoders follow diffusers' conventions: components injected, one
``__call__``, dataclass outputs, ``generator=`` for determinism. Names resolve lazily, so
``import neurodecode.decoders`` imports neither torch nor diffusers.
"""

from __future__ import annotations

from neurodecode._lazy import lazy_names

# public name -> (private module, attribute); the decoding capabilities add theirs here
_LAZY: dict[str, tuple[str, str]] = {
    "RidgeDecoder": ("_ridge_decoder", "RidgeDecoder"),
    "RowIndexedTargets": ("_ridge_decoder", "RowIndexedTargets"),
    "reliable_voxels": ("_ridge_decoder", "reliable_voxels"),
    "RidgeFlowDecoder": ("_flow_ridge", "RidgeFlowDecoder"),
    "CodebookFlowDecoder": ("_flow_codebook", "CodebookFlowDecoder"),
    "WarpAnimator": ("_animate", "WarpAnimator"),
    "MotionVideoModel": ("_animate", "MotionVideoModel"),
    "DiffusersMotionVideoModel": ("_animate", "DiffusersMotionVideoModel"),
    "load_motion_video_model": ("_animate", "load_motion_video_model"),
    "save_gif": ("_animate", "save_gif"),
    "score_flows": ("_motion_eval", "score_flows"),
    "BrainCaptionPipeline": ("_caption", "BrainCaptionPipeline"),
    "CaptionOutput": ("_caption", "CaptionOutput"),
    "caption_vision_tokens": ("_caption", "caption_vision_tokens"),
    "given_vision_tokens": ("_caption", "given_vision_tokens"),
    "vision_tokens": ("_caption", "vision_tokens"),
    "BankPosterior": ("_bank_prior", "BankPosterior"),
    "DecoderNoiseModel": ("_bank_prior", "DecoderNoiseModel"),
    "OnlineSoftmaxMean": ("_bank_prior", "OnlineSoftmaxMean"),
    "fit_noise_model": ("_bank_prior", "fit_noise_model"),
    "out_of_fold_scores": ("_bank_prior", "out_of_fold_scores"),
    "ReconstructionPipeline": ("_reconstruct", "ReconstructionPipeline"),
    "ReconstructionOutput": ("_reconstruct", "ReconstructionOutput"),
    "BankProjection": ("_scuba", "BankProjection"),
    "project_onto_bank": ("_scuba", "project_onto_bank"),
    "voxel_directions": ("_scuba", "voxel_directions"),
    "selectivity_naming": ("_scuba_eval", "selectivity_naming"),
    "caption_words": ("_caption_words", "caption_words"),
    "BrainGuidedDiffusionPipeline": ("_dive", "BrainGuidedDiffusionPipeline"),
    "DiveOutput": ("_dive", "DiveOutput"),
    "ImageVoxelEncoder": ("_dive", "ImageVoxelEncoder"),
    "VoxelTarget": ("_dive", "VoxelTarget"),
    "null_condition_kwargs": ("_dive", "null_condition_kwargs"),
    "word_summary": ("_caption_words", "word_summary"),
}

__all__ = sorted(_LAZY)


__getattr__, __dir__ = lazy_names(__name__, _LAZY, globals())
