"""A pinhole camera with optional radial lens distortion, fixed or panning."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

UP = np.array([0.0, 0.0, 1.0])


@dataclass(frozen=True)
class PinholeCamera:
    """Camera at ``position`` looking along ``forward`` (unit), image x right, y down."""

    position: np.ndarray
    forward: np.ndarray
    focal_px: float
    width: int
    height: int
    k1: float = 0.0
    k2: float = 0.0

    @classmethod
    def look_at(
        cls,
        position: np.ndarray,
        target: np.ndarray,
        fov_deg: float,
        width: int,
        height: int,
        k1: float = 0.0,
        k2: float = 0.0,
    ) -> PinholeCamera:
        forward = np.asarray(target, float) - np.asarray(position, float)
        forward /= np.linalg.norm(forward)
        focal = (width / 2) / np.tan(np.radians(fov_deg) / 2)
        return cls(np.asarray(position, float), forward, float(focal), width, height, k1, k2)

    @property
    def axes(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        right = np.cross(self.forward, UP)
        right /= np.linalg.norm(right)
        down = np.cross(self.forward, right)
        return right, down, self.forward

    def to_camera(self, points: np.ndarray) -> np.ndarray:
        right, down, fwd = self.axes
        rel = np.asarray(points, float) - self.position
        return np.stack([rel @ right, rel @ down, rel @ fwd], axis=-1)

    def project(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Pixels (n, 2) and depth along the optical axis (n,) of world points (n, 3)."""
        cam = self.to_camera(points)
        depth = cam[..., 2]
        xn = cam[..., :2] / np.maximum(depth, 1e-6)[..., None]
        if self.k1 or self.k2:
            r2 = np.sum(xn**2, axis=-1, keepdims=True)
            xn = xn * (1 + self.k1 * r2 + self.k2 * r2**2)
        pixels = xn * self.focal_px + np.array([self.width / 2, self.height / 2])
        return pixels, depth

    def ground_homography(self) -> np.ndarray:
        """3x3 homography from the ground plane (x, y, 1) to pixels (no distortion)."""
        right, down, fwd = self.axes
        rot = np.stack([right, down, fwd])  # world -> camera
        k = np.array(
            [[self.focal_px, 0, self.width / 2], [0, self.focal_px, self.height / 2], [0, 0, 1]]
        )
        t = -rot @ self.position
        h = k @ np.column_stack([rot[:, 0], rot[:, 1], t])
        return h / h[2, 2]
