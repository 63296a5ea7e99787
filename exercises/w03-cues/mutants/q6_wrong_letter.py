# why: picks the magnitude argument (b) instead of the off-manifold loophole (c)
def q6_answer():
    return "b"
