# why: uses the other convention (OOD positive): the ID fraction above the OOD 5 % cut
def fpr_at_95(scores_id, scores_ood):
    s_ood = torch.sort(torch.as_tensor(scores_ood, dtype=torch.float64)).values
    k = math.ceil(0.95 * len(s_ood))
    t = s_ood[k - 1]
    return float((torch.as_tensor(scores_id, dtype=torch.float64) <= t).double().mean())
