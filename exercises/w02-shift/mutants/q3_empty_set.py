# why: answers with no pipeline at all (undecided), which must not earn points
def leaky_pipelines():
    return set()
