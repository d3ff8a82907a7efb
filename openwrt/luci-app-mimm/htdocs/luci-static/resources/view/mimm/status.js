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
var callPrefer = rpc.declare({ object: 'mimm', method: 'prefer', params: [ 'interface' ] });
var callHandoff = rpc.declare({ object: 'mimm', method: 'handoff', params: [ 'interface' ] });

// Samples kept per interface for the chart (one per poll, every 2 s: 10 min).
var KEEP = 300;
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
	history: {},
	handoffs: [],
	lastHandoff: null,

	load: function() {
		return callStatus();
	},

	// One sample per interface from a status answer.
	record: function(status) {
		var now = Date.now() / 1000;
		(status.interfaces || []).forEach(L.bind(function(i) {
			var h = this.history[i.name] || (this.history[i.name] = []);
			h.push({ t: now, v: i.average, primary: status.primary == i.name });
			if (h.length > KEEP)
				h.shift();
		}, this));
		var last = status.last_handoff;
		if (last && (!this.lastHandoff || this.lastHandoff.to != last.to || this.lastHandoff.reason != last.reason)) {
			this.handoffs.push({ t: now - last.ago_s, to: last.to, from: last.from, reason: last.reason });
			this.lastHandoff = last;
		}
	},

	thresholds: function(i) {
		return LEVELS.map(function(l) {
			return [ l, i.thresholds[l] ];
		}).filter(function(p) { return p[1] != null; });
	},

	chart: function(i) {
		var W = 600, H = 120, h = this.history[i.name] || [];
		var th = this.thresholds(i).map(function(p) { return p[1]; });
		var vals = h.map(function(s) { return s.v; }).filter(function(v) { return v != null; });
		var lo = Math.min.apply(null, th.concat(vals)), hi = Math.max.apply(null, th.concat(vals));
		var pad = (hi - lo) * 0.15 || 1;
		lo -= pad; hi += pad;
		var t1 = Date.now() / 1000, t0 = t1 - KEEP * 2;
		var x = function(t) { return (t - t0) / (t1 - t0) * W; };
		var y = function(v) { return H - (v - lo) / (hi - lo) * H; };
		var parts = [];
		// The five bands: from each threshold up to the one above it.
		var levels = this.thresholds(i).sort(function(a, b) { return a[1] - b[1]; });
		levels.forEach(function(p, k) {
			var top = (k + 1 < levels.length) ? levels[k + 1][1] : hi;
			parts.push(svg('rect', { 'class': 'mimm-band', 'data-level': p[0], x: 0, width: W,
				y: y(top), height: Math.max(0, y(p[1]) - y(top)), fill: BAND[p[0]] },
				[ svg('title', {}, [ document.createTextNode('%s ≥ %s'.format(p[0], p[1])) ]) ]));
		});
		// Shaded while primary.
		h.forEach(function(s, k) {
			if (s.primary && k + 1 < h.length)
				parts.push(svg('rect', { 'class': 'mimm-primary', x: x(s.t), width: Math.max(1, x(h[k + 1].t) - x(s.t)),
					y: 0, height: H, fill: 'rgba(40,90,200,0.12)' }));
		});
		var pts = h.filter(function(s) { return s.v != null; })
			.map(function(s) { return '%.1f,%.1f'.format(x(s.t), y(s.v)); }).join(' ');
		parts.push(svg('polyline', { 'class': 'mimm-line', 'data-iface': i.name, points: pts,
			fill: 'none', stroke: '#1d4f91', 'stroke-width': 2 }));
		this.handoffs.forEach(function(e) {
			if (e.t < t0 || (e.to != i.name && e.from != i.name))
				return;
			parts.push(svg('line', { 'class': 'mimm-handoff', x1: x(e.t), x2: x(e.t), y1: 0, y2: H,
				stroke: '#b00', 'stroke-width': 2 },
				[ svg('title', {}, [ document.createTextNode('%s → %s: %s'.format(e.from || '-', e.to, e.reason)) ]) ]));
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

	update: function(node, status) {
		this.record(status);
		var charts = (status.interfaces || []).map(L.bind(this.chart, this));
		node.replaceChildren(this.summary(status), this.table(status),
			E('div', { 'class': 'mimm-charts' }, charts));
	},

	render: function(status) {
		var node = E('div', { 'class': 'mimm-live' });
		this.update(node, status);
		poll.add(L.bind(function() {
			return callStatus().then(L.bind(this.update, this, node));
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
