"""The loss study's composite: CE (23 x 23 bins) + 10 x Huber + 10 x Neighbor.

Huber and Neighbor see the predicted distribution's mean ab.
"""

from kcolor import losses, training

RECIPE = training.Recipe(
    name="composite",
    head="classification",
    grid="seed23",
    loss=lambda: losses.CompositeLoss(grid="seed23"),
    description="CE(23x23) + 10 Huber + 10 Neighbor; annealed mean at T = 0.38",
)

if __name__ == "__main__":
    training.main(RECIPE)
