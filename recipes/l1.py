"""Regression on ab with the L1 loss (the loss study's pix2pix baselines)."""

from kcolor import losses, training

RECIPE = training.Recipe(
    name="l1",
    head="regression",
    loss=lambda: losses.L1(),
    description="regression head, L1 on ab / 110",
)

if __name__ == "__main__":
    training.main(RECIPE)
