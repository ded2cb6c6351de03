"""Regression on ab with the L2 loss (the loss study's pix2pix baselines)."""

from kcolor import losses, training

RECIPE = training.Recipe(
    name="l2",
    head="regression",
    loss=lambda: losses.L2(),
    description="regression head, L2 on ab / 110",
)

if __name__ == "__main__":
    training.main(RECIPE)
