"""Per-pixel cross-entropy over the loss study's 23 x 23 ab bins, no rebalancing."""

from kcolor import losses, training

RECIPE = training.Recipe(
    name="binned_ce",
    head="classification",
    grid="seed23",
    loss=lambda: losses.BinnedCrossEntropy(grid="seed23"),
    description="23x23 bins, soft-encoded cross-entropy, annealed mean at T = 0.38",
)

if __name__ == "__main__":
    training.main(RECIPE)
