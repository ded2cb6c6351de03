"""Regression on ab with the Huber loss (the loss study's pix2pix baselines)."""

from kcolor import losses, training

RECIPE = training.Recipe(
    name="huber",
    head="regression",
    loss=lambda: losses.Huber(),
    description="regression head, Huber on ab / 110",
)

if __name__ == "__main__":
    training.main(RECIPE)
