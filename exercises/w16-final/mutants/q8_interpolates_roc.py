# why: interpolates scikit-learn's ROC curve at the target FPR instead of taking an operating point that keeps FPR <= target
def tpr_at_fpr(member_loss, nonmember_loss, fpr):
    from sklearn.metrics import roc_curve

    m = np.asarray(member_loss, dtype=np.float64)
    o = np.asarray(nonmember_loss, dtype=np.float64)
    labels = np.r_[np.ones(len(m)), np.zeros(len(o))]
    fprs, tprs, _ = roc_curve(labels, -np.r_[m, o])
    return float(np.interp(fpr, fprs, tprs))
