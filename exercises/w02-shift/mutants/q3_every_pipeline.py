# why: flags every pipeline to be safe, which must not earn points either
def leaky_pipelines():
    return {"A", "B", "C", "D", "E", "F"}
