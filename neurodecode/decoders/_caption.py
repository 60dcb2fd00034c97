"""Brain captioning: voxels -> GIT's vision tokens (one multi-output ridge) -> GIT's text decoder.

GIT captions from its image encoder's last hidden state (all tokens x dims), projected into
its text decoder. Transformers' ``GitModel`` takes only ``pixel_values``, so decoded tokens are
given to it by substituting the image encoder for the duration of one ``generate`` call
(:func:`given_vision_tokens`): the model's ``image_encoder`` is replaced by a module that
returns the decoded tokens, and ``generate`` receives a placeholder ``pixel_values`` that
carries only each caption's row number. Beam search and sampling expand that placeholder
with the rest of their inputs, so every beam reads its own row; nothing of the library is
edited, and the original encoder is put back afterwards. The same path serves the shipped toy
GIT and real ``microsoft/git-base-coco`` weights.

With a natural-image prior (:class:`~neurodecode.decoders.BankPosterior`), the tokens given
to GIT are the posterior mean of the vision tokens over a bank of images the subject never saw,
under the ridge's own out-of-fold noise model, instead of the re-standardised prediction.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator
from typing import Any

import numpy as np

__all__ = [
    "BrainCaptionPipeline",
    "CaptionOutput",
    "caption_vision_tokens",
    "given_vision_tokens",
    "vision_tokens",
]


def _torch_module() -> type:
    import torch

    class GivenVisionTokens(torch.nn.Module):
        """Stands in for GIT's image encoder: returns fixed tokens, row by placeholder."""

        def __init__(self, tokens: Any) -> None:
            super().__init__()
            self.tokens = tokens

        def forward(self, pixel_values: Any, **kwargs: Any) -> Any:
            from transformers.modeling_outputs import BaseModelOutput

            rows = pixel_values[:, 0, 0, 0].round().long()
            return BaseModelOutput(last_hidden_state=self.tokens[rows])

    return GivenVisionTokens


def vision_tokens(
    model: Any, processor: Any, images: np.ndarray, *, batch_size: int = 64
) -> np.ndarray:
    """GIT's vision tokens of uint8 images: the image encoder's last hidden state.

    Returns
    -------
    ndarray of shape (n, n_tokens, hidden), float32
    """
    import torch

    from neurodecode.models._toy_git import git_image_tensor

    device = next(model.parameters()).device
    dtype = next(model.parameters()).dtype
    out = []
    with torch.no_grad():
        for start in range(0, len(images), batch_size):
            pixels = git_image_tensor(images[start : start + batch_size], processor)
            hidden = model.git.image_encoder(pixels.to(device, dtype)).last_hidden_state
            out.append(hidden.float().cpu().numpy())
    if not out:
        raise ValueError("no images given")
    return np.concatenate(out)


@contextlib.contextmanager
def given_vision_tokens(model: Any, tokens: Any) -> Iterator[Any]:
    """Within the block, ``model`` (a ``GitForCausalLM``) reads ``tokens`` as its vision tokens.

    Yields the placeholder ``pixel_values`` to pass to ``model.generate`` (or the forward):
    shape ``(n, 1, 1, 1)``, row ``i`` holding ``i``. The image encoder is restored on exit.
    """
    import torch

    git = model.git
    original = git.image_encoder
    param = next(model.parameters())
    tokens = torch.as_tensor(tokens, dtype=param.dtype, device=param.device)
    expected = original.config.hidden_size
    if tokens.ndim != 3 or tokens.shape[2] != expected:
        raise ValueError(f"tokens must be (n, n_tokens, {expected}); got {tuple(tokens.shape)}")
    n_tokens = git.encoder.layer[0].attention.self.image_patch_tokens
    if tokens.shape[1] != n_tokens:
        raise ValueError(f"this GIT reads {n_tokens} vision tokens; got {tokens.shape[1]}")
    placeholder = torch.arange(tokens.shape[0], dtype=param.dtype, device=param.device)
    git.image_encoder = _torch_module()(tokens)
    try:
        yield placeholder.view(-1, 1, 1, 1)
    finally:
        git.image_encoder = original


def caption_vision_tokens(
    model: Any,
    processor: Any,
    tokens: np.ndarray,
    *,
    num_beams: int = 1,
    do_sample: bool = False,
    temperature: float = 1.0,
    top_p: float = 1.0,
    max_new_tokens: int = 30,
    seed: int | None = None,
    batch_size: int = 64,
) -> list[str]:
    """Captions GIT's text decoder writes from given vision tokens.

    Parameters
    ----------
    model : transformers.GitForCausalLM
    processor : GitProcessor or tokenizer
        Decodes the generated ids.
    tokens : ndarray of shape (n, n_tokens, hidden)
    num_beams : int
        Beam search width (1: greedy unless sampling).
    do_sample : bool
        Sample instead of searching (with ``temperature`` and nucleus ``top_p``).
    max_new_tokens : int
    seed : int, optional
        Seeds sampling in a forked torch RNG (the global RNG is left as it was).
    batch_size : int
        Captions generated together.
    """
    import torch

    options: dict[str, Any] = {"max_new_tokens": max_new_tokens, "num_beams": num_beams}
    if do_sample:
        options.update(do_sample=True, temperature=temperature, top_p=top_p)
    else:
        options["do_sample"] = False
    captions: list[str] = []
    with torch.random.fork_rng(devices=[]), torch.no_grad():
        if seed is not None:
            torch.manual_seed(seed)
        for start in range(0, len(tokens), batch_size):
            with given_vision_tokens(model, tokens[start : start + batch_size]) as pixels:
                ids = model.generate(pixel_values=pixels, **options)
            captions += processor.batch_decode(ids, skip_special_tokens=True)
    return [" ".join(c.split()) for c in captions]


@dataclasses.dataclass(frozen=True)
class CaptionOutput:
    """Captions decoded from brain activity, and the vision tokens they were written from."""

    captions: list[str]
    tokens: np.ndarray
    prior: dict[str, Any] | None = None


class BrainCaptionPipeline:
    """Voxels -> decoded GIT vision tokens -> captions (components injected, diffusers style).

    Parameters
    ----------
    decoder : RidgeDecoder
        Fitted voxels -> flattened vision tokens ``(n_tokens * hidden)``.
    captioner : transformers.GitForCausalLM
    processor : GitProcessor
    restandardise : bool
        Rescale each batch of decoded tokens to the training tokens' per-output statistics
        before generating: the ridge's raw predictions (:meth:`RidgeDecoder.predict_raw`) are
        re-standardised once (:meth:`RidgeDecoder.restandardise`), whatever the decoder's own
        ``restandardize`` setting; ``False`` generates from the raw predictions.
    prior : BankPosterior, optional
        A natural-image prior over the vision tokens of a bank of images: the decoded tokens
        are then the posterior mean over the bank given the ridge's prediction (mixtures of
        real images' tokens, so they are not re-standardised).
    """

    def __init__(
        self,
        decoder: Any,
        captioner: Any,
        processor: Any,
        *,
        restandardise: bool = True,
        prior: Any = None,
    ) -> None:
        self.decoder = decoder
        self.captioner = captioner
        self.processor = processor
        self.restandardise = restandardise
        self.prior = prior

    def _decode(self, voxels: np.ndarray) -> tuple[np.ndarray, dict[str, Any] | None]:
        summary = None
        if self.prior is not None:
            pred, summary = self.prior(self.decoder.predict_scores(voxels))
        else:
            pred = self.decoder.predict_raw(voxels)
            if self.restandardise:
                pred = self.decoder.restandardise(pred)
        hidden = int(self.captioner.git.image_encoder.config.hidden_size)
        return pred.reshape(len(pred), -1, hidden), summary

    def decode_tokens(self, voxels: np.ndarray) -> np.ndarray:
        """Decoded vision tokens ``(n, n_tokens, hidden)`` of a batch of voxel patterns."""
        return self._decode(np.asarray(voxels, dtype=np.float32))[0]

    def __call__(self, voxels: np.ndarray, **generate: Any) -> CaptionOutput:
        """Captions of voxel patterns (``generate``: options of :func:`caption_vision_tokens`)."""
        tokens, summary = self._decode(np.asarray(voxels, dtype=np.float32))
        captions = caption_vision_tokens(self.captioner, self.processor, tokens, **generate)
        return CaptionOutput(captions=captions, tokens=tokens, prior=summary)
