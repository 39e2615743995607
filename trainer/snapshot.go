package trainer

type netSnapshot struct {
	params     [][]float32
	mean, vari [][]float64
}

func snapshot(n *Net) netSnapshot {
	var s netSnapshot
	for _, p := range n.Params {
		s.params = append(s.params, append([]float32(nil), p.Value.Data().([]float32)...))
	}
	for _, bn := range n.BNs {
		m, v := bn.Stats()
		s.mean, s.vari = append(s.mean, m), append(s.vari, v)
	}
	return s
}

func (s netSnapshot) restore(n *Net) {
	for i, p := range n.Params {
		copy(p.Value.Data().([]float32), s.params[i])
	}
	for i, bn := range n.BNs {
		_ = bn.SetStats(s.mean[i], s.vari[i])
	}
}
