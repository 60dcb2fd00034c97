"""A simulated brain: volume geometry, ROI atlases, tuned populations, betas with noise."""

from __future__ import annotations

import hashlib
from functools import cached_property
from typing import Any

import numpy as np

from neurodecode.data._nsd_layout import ROI_ATLASES
from neurodecode.synth._config import WorldConfig
from neurodecode.synth._populations import POPULATION_FAMILIES, CellContext
from neurodecode.synth._stimuli import StimulusSet
from neurodecode.synth._truth import TRUTH_SPACES, truth_features

__all__ = ["SimulatedBrain", "label_key"]

VOXEL_MM = 1.8
_GEOMETRY, _TUNING, _SNR, _DRIFT, _NOISE = 21, 22, 23, 25, 26
_HEMIS = ("lh", "rh")


def label_key(label: str) -> int:
    """A stable 63-bit integer for a subject label (Python's ``hash`` is salted per process)."""
    return int.from_bytes(hashlib.sha256(label.encode()).digest()[:8], "little") >> 1


def _ranks(x: np.ndarray) -> np.ndarray:
    r = np.empty(len(x))
    r[np.argsort(x, kind="stable")] = np.arange(len(x))
    return r / max(len(x) - 1, 1)


class SimulatedBrain:
    """One subject's simulated brain, seeded from ``(config.seed, label)``.

    Build it with :meth:`World.brain`. Voxel columns are the brain-mask voxels in C order
    (``voxel_ijk = np.argwhere(brainmask)``). Responses are ``baseline + sum over spaces of
    truth_features(images)[space] @ true_weights[space]``: exactly linear in the truth spaces.

    Parameters
    ----------
    config : WorldConfig
        The world's configuration.
    label : str
        Subject label (any string, e.g. ``'subj01'`` or ``'CSI1'``).
    stimuli : StimulusSet
        The stimulus pool that :meth:`simulate_betas` draws images from.
    calibration : dict of str to ndarray
        Truth features of a sample of the pool; each tuned voxel's gain makes its signal sd
        over this sample equal to its drawn signal sd, which defines :attr:`ncsnr` exactly.

    Attributes
    ----------
    families : tuple of PopulationFamily
        The populations a subclass's brain holds (the image world's table here).
    spaces : dict of str to int
        The truth spaces its responses are linear in, with their sizes.
    """

    spaces = TRUTH_SPACES

    @property
    def families(self) -> tuple:  # looked up when used: the table is the extension point
        return POPULATION_FAMILIES

    def __init__(
        self,
        config: WorldConfig,
        label: str,
        stimuli: StimulusSet,
        calibration: dict[str, np.ndarray],
    ) -> None:
        self.config = config
        self.label = str(label)
        self.stimuli = stimuli
        self._key = label_key(self.label)
        self._build_geometry()
        self._build_populations()
        self._build_responses(calibration)
        for name in ("population", "true_space", "preference", "roi"):
            setattr(self, name, getattr(self, name).astype(str))

    # ------------------------------------------------------------------ geometry
    def _build_geometry(self) -> None:
        cfg = self.config
        shape = np.array(cfg.grid_shape)
        rng = np.random.default_rng([cfg.seed, _GEOMETRY, self._geometry_key()])
        centre = (shape - 1) / 2 + rng.uniform(-0.5, 0.5, size=3)
        axes = shape * rng.uniform(0.42, 0.47, size=3)
        ijk = np.indices(cfg.grid_shape, dtype=np.float64)
        r2 = sum(((ijk[d] - centre[d]) / axes[d]) ** 2 for d in range(3))
        self.grid_shape: tuple[int, ...] = tuple(int(s) for s in shape)
        self.brainmask: np.ndarray = r2 <= 1.0
        self.left_hemisphere: np.ndarray = self.brainmask & (ijk[0] < centre[0])
        self.affine: np.ndarray = np.diag([VOXEL_MM, VOXEL_MM, VOXEL_MM, 1.0])
        self.affine[:3, 3] = -VOXEL_MM * (shape - 1) / 2
        self.voxel_ijk: np.ndarray = np.argwhere(self.brainmask)
        self._midline = centre[0]
        # nsdgeneral: the posterior slab of the brain, without its top and bottom
        j, k = self.voxel_ijk[:, 1], self.voxel_ijk[:, 2]
        jf = (j - j.min()) / max(j.max() - j.min(), 1)
        kf = (k - k.min()) / max(k.max() - k.min(), 1)
        self._visual = (jf < cfg.visual_fraction) & (kf >= 0.1) & (kf <= 0.8)

    @property
    def n_voxels(self) -> int:
        """Number of voxel columns (brain-mask voxels)."""
        return int(self.voxel_ijk.shape[0])

    # --------------------------------------------------------------- populations
    def _build_populations(self) -> None:
        n = self.n_voxels
        self.population = np.full(n, "noise", dtype=object)
        self.true_space = np.full(n, "", dtype=object)
        self.preference = np.full(n, "", dtype=object)
        self.roi = np.full(n, "", dtype=object)
        self.prf_centre = np.full((n, 2), np.nan, dtype=np.float32)
        self.prf_size = np.full(n, np.nan, dtype=np.float32)
        self._raw_weights: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {}
        cells = [(f, roi, anchor) for f in self.families for roi, anchor in f.rois.items()]
        ijk = self.voxel_ijk.astype(np.float64)
        for h, hemi in enumerate(_HEMIS):
            lh = ijk[:, 0] < self._midline
            cols = np.flatnonzero(self._visual & (lh if hemi == "lh" else ~lh))
            if cols.size == 0:
                continue
            p = ijk[cols]
            norm = (p - p.min(axis=0)) / np.maximum(p.max(axis=0) - p.min(axis=0), 1)
            lateral = norm[:, 0] if hemi == "rh" else 1 - norm[:, 0]
            coords = np.stack([lateral, norm[:, 1], norm[:, 2]], axis=1)
            rng = np.random.default_rng([self.config.seed, _GEOMETRY, self._key, h])
            seeds = np.array([[0.5, v, w] for _, _, (v, w) in cells])
            seeds += rng.normal(0.0, 0.03, size=seeds.shape)
            # anisotropic Voronoi cells: convex pieces of a convex region, so contiguous; each
            # seed moves onto its nearest free voxel of the region, so no cell is empty
            scaled = coords * np.array([0.3, 1.0, 1.0])
            seeds *= np.array([0.3, 1.0, 1.0])
            free = np.ones(len(cols), dtype=bool)
            for c, seed in enumerate(seeds):
                d2 = ((scaled - seed) ** 2).sum(axis=1)
                d2[~free] = np.inf
                nearest = int(np.argmin(d2))
                seeds[c], free[nearest] = scaled[nearest], False
            owner = ((scaled[:, None, :] - seeds[None]) ** 2).sum(axis=-1).argmin(axis=1)
            for c, (family, roi, _) in enumerate(cells):
                in_cell = owner == c
                if not in_cell.any():
                    continue
                self._fill_cell(family, roi, hemi, h, c, cols[in_cell], coords[in_cell])

    def _fill_cell(self, family, roi, hemi, h, c, cols, coords) -> None:
        self.population[cols] = family.population
        self.roi[cols] = roi if family.atlas else ""
        if family.tuning is None:
            return
        position = np.stack([_ranks(coords[:, d]) for d in range(3)], axis=1)
        rng = np.random.default_rng([self.config.seed, _TUNING, self._key, h, c])
        tuning = family.tuning(CellContext(roi, hemi, position, rng))
        self.true_space[cols] = family.space
        self.preference[cols] = tuning.preference
        if tuning.prf_centre is not None:
            self.prf_centre[cols] = tuning.prf_centre
            self.prf_size[cols] = tuning.prf_size
        self._raw_weights.setdefault(family.space, []).append((cols, tuning.weights))

    @cached_property
    def atlases(self) -> dict[str, tuple[tuple[str, ...], np.ndarray]]:
        """Atlas name -> (label names, int16 volume: -1 outside the brain, 0 unlabeled, 1..K)."""
        names: dict[str, list[str]] = {"nsdgeneral": ["nsdgeneral"]}
        for family in self.families:
            if family.atlas is None:
                continue
            default = list(ROI_ATLASES.get(family.atlas, ()))
            labels = names.setdefault(family.atlas, default)
            labels.extend(r for r in family.rois if r not in labels)
        out = {}
        for atlas, labels in names.items():
            column_label = np.zeros(self.n_voxels, dtype=np.int16)
            if atlas == "nsdgeneral":
                column_label[self._visual] = 1
            else:
                for k, name in enumerate(labels, start=1):
                    owners = [f for f in self.families if f.atlas == atlas]
                    if any(name in f.rois for f in owners):
                        column_label[self.roi == name] = k
            vol = np.full(self.grid_shape, -1, dtype=np.int16)
            vol[tuple(self.voxel_ijk.T)] = column_label
            out[atlas] = (tuple(labels), vol)
        return out

    # ----------------------------------------------------------------- responses
    def _build_responses(self, calibration: dict[str, np.ndarray]) -> None:
        cfg, n = self.config, self.n_voxels
        rng = np.random.default_rng([cfg.seed, _SNR, self._key])
        ncsnr0 = np.clip(
            cfg.ncsnr_median * np.exp(cfg.ncsnr_sigma * rng.standard_normal(n)), 0.05, 3.0
        )
        lo, hi = np.log(cfg.signal_sd_range)
        signal_sd = np.exp(rng.uniform(lo, hi, size=n))
        nlo, nhi = cfg.noise_sd_range
        untuned_noise = np.exp(rng.uniform(np.log(nlo * 1.5), np.log(nhi / 2), size=n))
        self.baseline = (cfg.baseline_mean + cfg.baseline_sd * rng.standard_normal(n)).astype(
            np.float32
        )
        self._weights: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        tuned = np.zeros(n, dtype=bool)
        for space, parts in self._raw_weights.items():
            cols = np.concatenate([c for c, _ in parts])
            w = np.concatenate([wt for _, wt in parts], axis=1)
            sd = (calibration[space].astype(np.float64) @ w).std(axis=0)
            ok = sd > 1e-9  # a pRF over a field no calibration image excites stays untuned
            self.true_space[cols[~ok]] = ""
            cols, w = cols[ok], w[:, ok] * (signal_sd[cols[ok]] / sd[ok])
            self._weights[space] = (cols, w.astype(np.float32))
            tuned[cols] = True
        noise_sd = np.where(tuned, np.clip(signal_sd / ncsnr0, nlo, nhi), untuned_noise)
        self.noise_sd = noise_sd.astype(np.float32)
        self.signal_sd = np.where(tuned, signal_sd, 0.0).astype(np.float32)
        self.ncsnr = (self.signal_sd / self.noise_sd).astype(np.float32)

    @cached_property
    def true_weights(self) -> dict[str, np.ndarray]:
        """Space -> dense float32 weights ``(p, n_voxels)`` (zero for voxels not driven by it)."""
        out = {}
        for space, (cols, w) in self._weights.items():
            dense = np.zeros((self.spaces[space], self.n_voxels), dtype=np.float32)
            dense[:, cols] = w
            out[space] = dense
        return out

    def noise_ceiling(self, n_repeats: float = 1) -> np.ndarray:
        """True noise ceiling (% variance) of responses averaged over ``n_repeats`` trials."""
        s2 = self.ncsnr.astype(np.float64) ** 2
        return (100.0 * s2 / (s2 + 1.0 / n_repeats)).astype(np.float32)

    def _geometry_key(self) -> int:
        """What the volume geometry is seeded by besides the world seed: the subject here."""
        return self._key

    def stimulus_features(self, batch: Any) -> dict[str, np.ndarray]:
        """Truth features of a stimulus batch (uint8 images ``(n, H, W, 3)`` here)."""
        return truth_features(batch)

    def true_response_ids(self, stim_ids: np.ndarray) -> np.ndarray:
        """Noise-free PSC ``(n, n_voxels)`` of pool stimuli given by id."""
        return self.true_response(self.stimuli.images(np.asarray(stim_ids)))

    def true_response(self, images: Any) -> np.ndarray:
        """Noise-free PSC ``(n, n_voxels)`` float32 for any uint8 image batch ``(n, H, W, 3)``."""
        return self.response_to_features(self.stimulus_features(images))

    def response_to_features(self, feats: dict[str, np.ndarray]) -> np.ndarray:
        """Noise-free PSC ``(n, n_voxels)`` of stimuli with truth features ``feats``."""
        n = next(iter(feats.values())).shape[0]
        out = np.broadcast_to(self.baseline, (n, self.n_voxels)).copy()
        for space, (cols, w) in self._weights.items():
            out[:, cols] += feats[space] @ w
        return out

    def simulate_betas(
        self, stim_ids: np.ndarray, sessions: np.ndarray, seed: int = 0
    ) -> np.ndarray:
        """Single-trial betas (PSC): true response + per-session drift + Gaussian noise.

        Parameters
        ----------
        stim_ids : ndarray of int, shape (n_trials,)
            Stimulus shown on each trial.
        sessions : ndarray of int, shape (n_trials,)
            Non-negative session number of each trial. The drift of a session depends on the
            brain and the session only; its noise on ``(seed, session)`` and the order of the
            session's trials, so simulating sessions one call at a time or all at once gives
            the same betas.
        seed : int
            Noise seed.

        Returns
        -------
        ndarray of float32, shape (n_trials, n_voxels)
        """
        stim_ids = np.asarray(stim_ids, dtype=np.int64).ravel()
        sessions = np.asarray(sessions, dtype=np.int64).ravel()
        if stim_ids.shape != sessions.shape:
            raise ValueError(f"{stim_ids.size} stimulus ids but {sessions.size} session numbers")
        if sessions.size and sessions.min() < 0:
            raise ValueError("session numbers must be non-negative")
        unique, inverse = np.unique(stim_ids, return_inverse=True)
        true = self.true_response_ids(unique)
        out = true[inverse]
        cfg = self.config
        for s in np.unique(sessions):
            rows = np.flatnonzero(sessions == s)
            drift_rng = np.random.default_rng([cfg.seed, _DRIFT, self._key, int(s)])
            noise_rng = np.random.default_rng([cfg.seed, _NOISE, self._key, int(seed), int(s)])
            drift = cfg.drift_sd * drift_rng.standard_normal(self.n_voxels).astype(np.float32)
            noise = noise_rng.standard_normal((rows.size, self.n_voxels), dtype=np.float32)
            out[rows] += drift + noise * self.noise_sd
        return out
