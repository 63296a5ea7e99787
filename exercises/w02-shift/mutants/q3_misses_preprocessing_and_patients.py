# why: overlooks the scaler fitted on all data and the patient-level duplicates
def leaky_pipelines():
    return {"C", "E"}
