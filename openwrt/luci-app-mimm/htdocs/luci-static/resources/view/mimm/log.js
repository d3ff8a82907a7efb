'use strict';
'require view';
'require rpc';
'require poll';

// mimmd's history, newest first: every switch with the reason it gave,
// and what led to it (preparations, hooks, link and path changes, advice).

var callHistory = rpc.declare({ object: 'mimm', method: 'history', expect: { events: [] } });

return view.extend({
	load: function() {
		return callHistory();
	},

	table: function(events) {
		var rows = events.slice().reverse().map(function(e) {
			return E('tr', { 'class': 'tr mimm-event', 'data-kind': e.kind }, [
				E('td', { 'class': 'td' }, '%.1f s'.format(e.t_s)),
				E('td', { 'class': 'td' }, e.kind),
				E('td', { 'class': 'td' }, e.iface || '-'),
				E('td', { 'class': 'td mimm-detail' }, e.detail)
			]);
		});
		var head = E('tr', { 'class': 'tr table-titles' }, [ _('Since start'), _('Event'), _('Interface'), _('What and why') ]
			.map(function(h) { return E('th', { 'class': 'th' }, h); }));
		return E('table', { 'class': 'table mimm-log' }, [ head ].concat(rows));
	},

	render: function(events) {
		var node = E('div', {}, this.table(events));
		poll.add(L.bind(function() {
			return callHistory().then(L.bind(function(ev) {
				node.replaceChildren(this.table(ev));
			}, this));
		}, this), 5);
		return E('div', { 'class': 'cbi-map' }, [
			E('h2', {}, _('Handoff log')),
			E('div', { 'class': 'cbi-map-descr' }, _('mimmd\'s recent events, newest first: each switch with the rule and figures that made it.')),
			node
		]);
	},

	handleSaveApply: null,
	handleSave: null,
	handleReset: null
});
