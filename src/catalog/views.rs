//! How stored HSDS objects are shown: the list forms of the HSDS profile, and the public view of
//! confidential locations. Pure.

use crate::auth::Viewer;
use crate::hsds::model::{Location, Organization, Service, ServiceAtLocation};

/// Coordinates of a confidential location are rounded to 0.01° (about 1 km) in public.
pub fn coarse(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

/// A location as `viewer` sees it: in public, a confidential one loses its addresses and its
/// exact point.
pub fn location(l: Location, viewer: Viewer) -> Location {
    match viewer {
        Viewer::Partner => l,
        Viewer::Public => public_location(l),
    }
}

/// A fully nested service as `viewer` sees it.
pub fn service(s: Service, viewer: Viewer) -> Service {
    match viewer {
        Viewer::Partner => s,
        Viewer::Public => public_service(s),
    }
}

/// A service_at_location as `viewer` sees it.
pub fn service_at_location(sal: ServiceAtLocation, viewer: Viewer) -> ServiceAtLocation {
    match viewer {
        Viewer::Partner => sal,
        Viewer::Public => public_service_at_location(sal),
    }
}

fn public_location(mut l: Location) -> Location {
    if l.confidential == Some(true) {
        l.addresses.clear();
        l.latitude = l.latitude.map(coarse);
        l.longitude = l.longitude.map(coarse);
    }
    l
}

fn public_service(mut s: Service) -> Service {
    for sal in &mut s.service_at_locations {
        if let Some(l) = sal.location.take() {
            sal.location = Some(public_location(l));
        }
    }
    s
}

fn public_service_at_location(mut sal: ServiceAtLocation) -> ServiceAtLocation {
    if let Some(l) = sal.location.take() {
        sal.location = Some(public_location(l));
    }
    if let Some(s) = sal.service.take() {
        sal.service = Some(Box::new(public_service(*s)));
    }
    sal
}

/// The HSDS list form of an organisation: its own fields, no nested arrays.
pub fn organization_list_item(o: Organization) -> Organization {
    Organization {
        id: o.id,
        name: o.name,
        alternate_name: o.alternate_name,
        description: o.description,
        email: o.email,
        website: o.website,
        tax_status: o.tax_status,
        tax_id: o.tax_id,
        year_incorporated: o.year_incorporated,
        legal_status: o.legal_status,
        logo: o.logo,
        uri: o.uri,
        parent_organization_id: o.parent_organization_id,
        ..Default::default()
    }
}

/// The HSDS list form of a service: its own fields with its organisation and programme.
pub fn service_list_item(s: Service) -> Service {
    Service {
        organization: s.organization.map(|o| Box::new(organization_list_item(*o))),
        phones: vec![],
        schedules: vec![],
        service_areas: vec![],
        service_at_locations: vec![],
        languages: vec![],
        funding: vec![],
        cost_options: vec![],
        required_documents: vec![],
        contacts: vec![],
        attributes: vec![],
        metadata: vec![],
        ..s
    }
}

/// The HSDS list form of a service_at_location: its own fields, its location and its service
/// in list form.
pub fn service_at_location_list_item(sal: ServiceAtLocation) -> ServiceAtLocation {
    ServiceAtLocation {
        contacts: vec![],
        phones: vec![],
        schedules: vec![],
        attributes: vec![],
        metadata: vec![],
        service: sal.service.map(|s| Box::new(service_list_item(*s))),
        ..sal
    }
}
