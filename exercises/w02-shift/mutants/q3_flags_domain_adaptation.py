# why: treats the unlabelled target images of domain adaptation as a leak, although the setting allows them
def leaky_pipelines():
    return {"A", "C", "D", "E", "F"}
