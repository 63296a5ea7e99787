# why: scores with the predictive (total) entropy instead of the mutual information
def mi_ood_auroc(stack_id, stack_ood):
    def ent(stack):
        p = torch.as_tensor(stack, dtype=torch.float64)
        m = p.mean(0)
        return -torch.where(m > 0, m * torch.log(m), 0.0).sum(1)

    s_id, s_ood = -ent(stack_id), -ent(stack_ood)
    wins = (s_id[:, None] > s_ood[None, :]).double()
    ties = (s_id[:, None] == s_ood[None, :]).double()
    return float((wins + 0.5 * ties).mean())
