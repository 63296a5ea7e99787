# why: takes the threshold from the wrong end, the 95 % largest ID score (TPR 5 %)
def fpr_at_95(scores_id, scores_ood):
    s_id = torch.sort(torch.as_tensor(scores_id, dtype=torch.float64),
                      descending=True).values
    k = math.ceil(0.05 * len(s_id))
    t = s_id[k - 1]
    s_ood = torch.as_tensor(scores_ood, dtype=torch.float64)
    return float((s_ood >= t).double().mean())
