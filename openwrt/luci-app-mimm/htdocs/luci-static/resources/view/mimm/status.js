'use strict';
'require view';
'require rpc';
'require poll';
'require ui';

// mimm's status page: every interface with its state, metric, score and
// five thresholds, the primary and why; prefer and handoff buttons; and a
// live chart per interface of its averaged metric against its thresholds,
// the time it was primary shaded and each handoff marked with its reason.

var callStatus = rpc.declare({ object: 'mimm', method: 'status' });
var callRecent = rpc.declare({ object: 'mimm', method: 'recent' });
var callHistory = rpc.declare({ object: 'mimm', method: 'history', expect: { events: [] } });
var callPrefer = rpc.declare({ object: 'mimm', method: 'prefer', params: [ 'interface' ] });
var callHandoff = rpc.declare({ object: 'mimm', method: 'handoff', params: [ 'interface' ] });

// The chart's span: mimmd keeps the last 600 sample periods (10 min at 1 s).
var SPAN_S = 600;
var LEVELS = [ 'stable', 'active', 'deteriorating', 'inactive', 'available' ];
var BAND = {
	stable: '#cfe8cf', active: '#e3f0d0', deteriorating: '#f7eccb',
	inactive: '#f6d6cf', available: '#ece3f3'
};
var SVG = 'http://www.w3.org/2000/svg';

function svg(tag, attrs, children) {
	var e = document.createElementNS(SVG, tag);
	for (var k in attrs)
		e.setAttribute(k, attrs[k]);
	(children || []).forEach(function(c) { e.appendChild(c); });
	return e;
}

function fmt(v, unit) {
	return (v == null) ? '-' : '%.1f%s'.format(v, unit || '');
}

return view.extend({
	load: function() {
		return Promise.all([ callStatus(), callRecent(), callHistory() ]);
	},

	thresholds: function(i) {
		return LEVELS.map(function(l) {
			return [ l, i.thresholds[l] ];
		}).filter(function(p) { return p[1] != null; });
	},

	// Interface `k` of mimmd's ring: its averages, the primary's spans,
	// the switches to or from it (hover: the reason mimmd gave).
	chart: function(i, k, recent, events) {
		var W = 600, H = 120, pts = recent.points || [];
		var th = this.thresholds(i).map(function(p) { return p[1]; });
		var vals = pts.map(function(p) { return p.average[k]; }).filter(function(v) { return v != null; });
		var lo = Math.min.apply(null, th.concat(vals)), hi = Math.max.apply(null, th.concat(vals));
		var pad = (hi - lo) * 0.15 || 1;
		lo -= pad; hi += pad;
		// Up to the ring's 10 minutes, at least one: a young ring fills the width.
		var t1 = pts.length ? pts[pts.length - 1].t_s : 0;
		var t0 = t1 - Math.min(SPAN_S, Math.max(60, t1 - (pts.length ? pts[0].t_s : 0)));
		var x = function(t) { return (t - t0) / (t1 - t0) * W; };
		var y = function(v) { return H - (v - lo) / (hi - lo) * H; };
		var parts = [];
		// The bands: from each threshold up to the next.
		var levels = this.thresholds(i).sort(function(a, b) { return a[1] - b[1]; });
		levels.forEach(function(p, n) {
			var top = (n + 1 < levels.length) ? levels[n + 1][1] : hi;
			parts.push(svg('rect', { 'class': 'mimm-band', 'data-level': p[0], x: 0, width: W,
				y: y(top), height: Math.max(0, y(p[1]) - y(top)), fill: BAND[p[0]] },
				[ svg('title', {}, [ document.createTextNode('%s ≥ %s'.format(p[0], p[1])) ]) ]));
		});
		pts.forEach(function(p, n) {
			if (p.primary == k && n + 1 < pts.length)
				parts.push(svg('rect', { 'class': 'mimm-primary', x: x(p.t_s),
					width: Math.max(1, x(pts[n + 1].t_s) - x(p.t_s)), y: 0, height: H,
					fill: 'rgba(40,90,200,0.12)' }));
		});
		var line = pts.filter(function(p) { return p.average[k] != null; })
			.map(function(p) { return '%.1f,%.1f'.format(x(p.t_s), y(p.average[k])); }).join(' ');
		parts.push(svg('polyline', { 'class': 'mimm-line', 'data-iface': i.name, points: line,
			fill: 'none', stroke: '#1d4f91', 'stroke-width': 2 }));
		events.forEach(function(e) {
			var ours = e.iface == i.name || (e.detail || '').indexOf(i.name + ' -> ') == 0;
			if (e.kind != 'switch' || !ours || e.t_s < t0)
				return;
			parts.push(svg('line', { 'class': 'mimm-handoff', x1: x(e.t_s), x2: x(e.t_s), y1: 0, y2: H,
				stroke: '#b00', 'stroke-width': 2 },
				[ svg('title', {}, [ document.createTextNode(e.detail) ]) ]));
		});
		return E('div', { 'class': 'mimm-chart', 'data-iface': i.name }, [
			E('h4', {}, '%s (%s)'.format(i.name, i.metric)),
			svg('svg', { width: W, height: H, viewBox: '0 0 %d %d'.format(W, H) }, parts)
		]);
	},

	steer: function(call, name) {
		return call(name).then(function(r) {
			if (r && r.error)
				ui.addNotification(null, E('p', r.error));
		});
	},

	table: function(status) {
		var rows = (status.interfaces || []).map(L.bind(function(i) {
			var t = i.thresholds;
			return E('tr', { 'class': 'tr mimm-iface', 'data-iface': i.name }, [
				E('td', { 'class': 'td' }, i.name + (status.primary == i.name ? ' ★' : '')),
				E('td', { 'class': 'td mimm-state' }, i.state),
				E('td', { 'class': 'td' }, '%s / %s'.format(i.carrier ? 'carrier' : 'no carrier',
					i.reachable == null ? 'no probes' : (i.reachable ? 'path ok' : 'path lost'))),
				E('td', { 'class': 'td' }, '%s: %s / %s'.format(i.metric, fmt(i.raw), fmt(i.average))),
				E('td', { 'class': 'td' }, fmt(i.score)),
				E('td', { 'class': 'td' }, [ t.available, t.inactive, t.deteriorating, t.active, t.stable ]
					.map(function(v) { return v == null ? '-' : v; }).join(' / ')),
				E('td', { 'class': 'td' }, [
					E('button', { 'class': 'cbi-button mimm-prefer', 'data-iface': i.name,
						'click': ui.createHandlerFn(this, 'steer', callPrefer, i.name) }, _('Prefer')),
					' ',
					E('button', { 'class': 'cbi-button mimm-handoff', 'data-iface': i.name,
						'click': ui.createHandlerFn(this, 'steer', callHandoff, i.name) }, _('Hand off'))
				])
			]);
		}, this));
		var head = E('tr', { 'class': 'tr table-titles' }, [ 'Interface', 'State', 'Carrier / path',
			'Metric: raw / average', 'Score', 'Thresholds: avail / inactive / deter. / active / stable', '' ]
			.map(function(h) { return E('th', { 'class': 'th' }, h); }));
		return E('table', { 'class': 'table mimm-status' }, [ head ].concat(rows));
	},

	summary: function(status) {
		var last = status.last_handoff;
		return E('p', { 'class': 'mimm-primary-line' }, [
			E('strong', {}, _('Primary: ')), E('span', { 'class': 'mimm-primary-name' }, status.primary || '-'),
			status.preferred ? ' (%s %s)'.format(_('preferred:'), status.preferred) : '',
			last ? E('span', { 'class': 'mimm-why' }, ' — %s → %s, %.0f s ago: %s'.format(
				last.from || '-', last.to, last.ago_s, last.reason)) : ''
		]);
	},

	update: function(node, data) {
		var status = data[0], recent = data[1] || {}, events = data[2] || [];
		var charts = (status.interfaces || []).map(L.bind(function(i) {
			var k = (recent.interfaces || []).indexOf(i.name);
			return this.chart(i, k, k < 0 ? {} : recent, events);
		}, this));
		node.replaceChildren(this.summary(status), this.table(status),
			E('div', { 'class': 'mimm-charts' }, charts));
	},

	render: function(data) {
		var node = E('div', { 'class': 'mimm-live' });
		this.update(node, data);
		poll.add(L.bind(function() {
			return this.load().then(L.bind(this.update, this, node));
		}, this), 2);
		return E('div', { 'class': 'cbi-map' }, [
			E('h2', {}, _('Mobility management')),
			E('div', { 'class': 'cbi-map-descr' }, _('Every WAN link as mimmd sees it; the chart shows each averaged metric against its five thresholds, the time it was primary shaded, each handoff in red (hover for its reason).')),
			node
		]);
	},

	handleSaveApply: null,
	handleSave: null,
	handleReset: null
});
